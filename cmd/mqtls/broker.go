package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/urfave/cli/v2"

	"mqtls/broker"
	"mqtls/conf"
)

func brokerCmd() *cli.Command {
	return &cli.Command{
		Name:      "broker",
		Usage:     "run the secure MQTT broker",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls broker -c mosquitto.conf     run with a Mosquitto-style config file
   $ mqtls broker                       run the dev sandbox in ./mqtls-dev

The config file uses mosquitto.conf syntax; the README lists every supported
option and every difference from Mosquitto. Signals: SIGHUP reloads CRLs,
password and ACL files; SIGINT and SIGTERM shut down cleanly.

Exit codes: 0 clean shutdown, 1 failure, 2 misuse.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "config-file", Aliases: []string{"c"}, Usage: "read the configuration from `FILE`"},
			&cli.DurationFlag{Name: "connect-timeout", Value: broker.DefaultConnectTimeout, Usage: "close connections that have not finished the TLS handshake and CONNECT within `DURATION`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("broker takes no arguments, got %q", c.Args().First())
			}
			path := c.String("config-file")
			if path == "" {
				return fmt.Errorf("the dev sandbox is not available yet: give a config file with -c")
			}
			cfg, err := conf.Load(path)
			if err != nil {
				return err
			}
			if c.Duration("connect-timeout") <= 0 {
				return usageErrorf("flag '--connect-timeout' must be positive")
			}
			return runBroker(c.Context, cfg, broker.Options{ConnectTimeout: c.Duration("connect-timeout")}, c.App.Writer, c.App.ErrWriter)
		},
	}
}

// runBroker runs until SIGINT or SIGTERM; SIGHUP reloads.
func runBroker(ctx context.Context, cfg *conf.Config, opts broker.Options, stdout, stderr interface {
	Write([]byte) (int, error)
}) error {
	log, closer, err := broker.NewLogger(cfg, stdout, stderr)
	if err != nil {
		return err
	}
	defer closer.Close()
	b, err := broker.New(cfg, log, opts)
	if err != nil {
		return err
	}
	if err := b.Start(); err != nil {
		return err
	}
	log.Info("mqtls broker " + version() + " running")
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-hup:
			log.Info("SIGHUP: reloading CRLs, password and ACL files")
			b.Reload()
		case <-ctx.Done():
			log.Info("shutting down")
			return b.Close()
		}
	}
}
