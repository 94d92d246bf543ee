package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/urfave/cli/v2"

	"mqtls/broker"
	"mqtls/conf"
	"mqtls/internal/fileio"
	"mqtls/sandbox"
)

func brokerCmd() *cli.Command {
	return &cli.Command{
		Name:      "broker",
		Usage:     "run the secure MQTT broker",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls broker
       the dev sandbox: a dev CA, certificates and a dynsec file in ./mqtls-dev,
       1883 (dynsec passwords) and 8883 (mutual TLS) on 127.0.0.1, the inspector
       on http://127.0.0.1:8088, and a "try it" block of commands to paste
   $ mqtls broker -c mosquitto.conf
       run with a Mosquitto-style config file (the README lists every option)

Signals: SIGHUP reloads CRLs, password and ACL files and server certificates
(CRL files are also reloaded when they change); SIGUSR2 returns freed memory
to the system and logs the memory in use; SIGINT and SIGTERM shut down cleanly.

Memory: the soft limit of the Go collector is GOMEMLIMIT when set, else the
config's memory_soft_limit, else 90% of the cgroup's memory limit; it is
logged at start and not changed by SIGHUP.

Exit codes: 0 clean shutdown, 1 failure, 2 misuse.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config-file", Aliases: []string{"c"}, Usage: "read the configuration from `FILE`"},
			&cli.DurationFlag{Name: "connect-timeout", Value: broker.DefaultConnectTimeout, Usage: "close connections that have not finished the TLS handshake and CONNECT within `DURATION`"},
			&cli.StringFlag{Name: "dev-dir", Value: "mqtls-dev", Usage: "dev sandbox: its `FOLDER` (without -c)"},
			&cli.IntFlag{Name: "dev-port", Value: 1883, Usage: "dev sandbox: MQTT `PORT` with dynsec passwords"},
			&cli.IntFlag{Name: "dev-tls-port", Value: 8883, Usage: "dev sandbox: mutual TLS `PORT`"},
			&cli.StringFlag{Name: "dev-inspector", Value: "127.0.0.1:8088", Usage: "dev sandbox: inspector `ADDRESS` (\"\" for none)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("broker takes no arguments, got %q", c.Args().First())
			}
			if c.Duration("connect-timeout") <= 0 {
				return usageErrorf("flag '--connect-timeout' must be positive")
			}
			opts := broker.Options{ConnectTimeout: c.Duration("connect-timeout")}
			if path := c.String("config-file"); path != "" {
				cfg, err := conf.Load(path)
				if err != nil {
					return err
				}
				return runBroker(c.Context, cfg, opts, "", c.App.Writer, c.App.ErrWriter)
			}
			sb, err := sandbox.Make(sandbox.Options{
				Dir: c.String("dev-dir"), Port: c.Int("dev-port"), TLSPort: c.Int("dev-tls-port"),
				Inspector: c.String("dev-inspector"), Program: programName(),
			})
			if err != nil {
				return err
			}
			warnf(c.App.ErrWriter, "dev sandbox in %s: its CA key has no password; never use it for real devices", c.String("dev-dir"))
			err = runBroker(c.Context, sb.Config, opts, sb.TryIt, c.App.Writer, c.App.ErrWriter)
			if errors.Is(err, syscall.EADDRINUSE) {
				return withHint(err, "another broker listens there: stop it, or move the sandbox with --dev-port, --dev-tls-port and --dev-inspector")
			}
			return err
		},
	}
}

// runBroker runs until SIGINT or SIGTERM; SIGHUP reloads. tryIt, when set,
// is printed on stdout once the broker listens.
func runBroker(ctx context.Context, cfg *conf.Config, opts broker.Options, tryIt string, stdout, stderr io.Writer) error {
	// The signals are ours before anything listens: one that came between
	// the listeners opening and these calls took Go's default and ended
	// the process (a SIGHUP or SIGUSR2 sent as soon as the port answered).
	// A signal that comes during start-up waits in its channel.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr2 := make(chan os.Signal, 1)
	signal.Notify(usr2, syscall.SIGUSR2)
	defer signal.Stop(usr2)
	log, closer, err := broker.NewLogger(cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	memLimit := broker.ApplyMemoryLimit(cfg)
	b, err := broker.New(cfg, log, opts)
	if err != nil {
		return err
	}
	// Every way out closes the broker: its listeners, the dynsec file's
	// lock and the persistence store (Close is idempotent).
	defer b.Close()
	if err := startEnrollment(cfg, b, log); err != nil {
		return err
	}
	stopInspector, err := b.StartInspector()
	if err != nil {
		return err
	}
	defer stopInspector()
	if err := b.Start(); err != nil {
		return err
	}
	if cfg.PIDFile != "" {
		// Written once the listeners are up, removed on every way out.
		if err := fileio.WriteFile(cfg.PIDFile, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
			return fmt.Errorf("pid_file: %w", err)
		}
		defer os.Remove(cfg.PIDFile)
	}
	if memLimit.Ignored != "" {
		log.Warn(memLimit.Ignored)
	}
	log.Info(memLimit.String())
	log.Info("mqtls broker " + version() + " running")
	if tryIt != "" {
		fmt.Fprintln(stdout, tryIt)
	}
	for {
		select {
		case <-hup:
			log.Info("SIGHUP: reloading CRLs, password and ACL files, server certificates")
			b.Reload()
		case <-usr2:
			log.Info("SIGUSR2: " + broker.FreeMemory())
		case <-ctx.Done():
			log.Info("shutting down")
			return b.Close()
		}
	}
}

// programName is how a user runs this binary again: "mqtls" when that name
// on the PATH is this very file, else the path it was started by.
func programName() string {
	self, err := os.Executable()
	if err != nil {
		return "mqtls"
	}
	if p, err := exec.LookPath("mqtls"); err == nil {
		if a, err1 := filepath.EvalSymlinks(p); err1 == nil {
			if b, err2 := filepath.EvalSymlinks(self); err2 == nil && a == b {
				return "mqtls"
			}
		}
	}
	if strings.ContainsRune(os.Args[0], filepath.Separator) {
		return os.Args[0]
	}
	return self
}
