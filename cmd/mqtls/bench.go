package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/bench"
)

func benchCmd() *cli.Command {
	return &cli.Command{
		Name:  "bench",
		Usage: "measure an MQTT broker: throughput, latency, connects and memory",
		Description: `EXAMPLES:
   $ mqtls bench pubsub --url tcp://127.0.0.1:1883
         4 publisher/subscriber pairs, QoS 0, as fast as the broker goes, for 10s
   $ mqtls bench pubsub --qos 1 --rate 10000 --duration 20s --warmup 2s --pid $(pidof mosquitto)
         10,000 msg/s offered; latency percentiles; broker CPU per message
   $ mqtls bench fanout --subscribers 50 --rate 1000
         one publisher, every message delivered to 50 subscribers
   $ mqtls bench connect --url ssl://localhost:8883 --cafile pki/chain.pem --cert-dir devices/ --connections 2000 --concurrency 32
         2000 mutual-TLS connects, 32 at a time, cycling through the certificates in devices/
   $ mqtls bench fleet --url ssl://localhost:8883 --cafile pki/chain.pem --cert-dir devices/ --clients 10000 --interval 1s --duration 60s --qos 1
         10,000 devices each publishing once a second for a minute; every message counted
         per device: lost, duplicated, disconnects

   The same tool runs against any MQTT 3.1.1 broker; make compare runs it
   against Mosquitto and mqtls side by side. Results go to standard output
   (--json for a machine), a progress line to standard error on a terminal.

FLAGS:
   bench shares -L (--url) and -u (--username) with pub and sub; its other
   flags are long only, because pub and sub give -P, -q, -d, -s, -r, -n, -c
   and -k other meanings (password, QoS, debug, ...).

EXIT CODES:
   0 the run completed, 1 it failed (no connection, a connection lost, a
   publish refused), 2 misuse`,
		Subcommands: benchUsage(benchPubSubCmd(), benchFanoutCmd(), benchConnectCmd(), benchFleetCmd()),
	}
}

// benchShort are the short letters that pub and sub give another meaning:
// bench does not take them, and names its long flag instead.
var benchShort = map[string][2]string{
	"P": {"--pairs", "the password"},
	"q": {"--qos or --quiet", "the QoS"},
	"d": {"--duration", "debug"},
	"s": {"--size", "the message from standard input"},
	"r": {"--rate", "retain"},
	"n": {"--subscribers", "a null message"},
	"c": {"--connections", "clean session off"},
	"k": {"--concurrency", "the keepalive"},
}

// benchUsage gives bench's commands a hint for pub and sub's short letters.
func benchUsage(cmds ...*cli.Command) []*cli.Command {
	for _, cmd := range cmds {
		cmd.OnUsageError = func(c *cli.Context, err error, sub bool) error {
			name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
			if long, known := benchShort[name]; ok && known {
				return withHint(usageErrorf("%s: unknown flag -%s", commandPath(c), name),
					fmt.Sprintf("use %s here; in pub and sub -%s is %s", long[0], name, long[1]))
			}
			return onUsageError(c, err, sub)
		}
	}
	return cmds
}

// benchTargetFlags are the flags that say where the broker is and how to
// log in; every bench mode has them.
func benchTargetFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "url", Aliases: []string{"L"}, Value: "tcp://127.0.0.1:1883", Usage: "broker `URL`: tcp://host:port, or ssl://host:port for TLS"},
		&cli.StringFlag{Name: "cafile", Usage: "CA certificates `FILE` that verifies the broker (TLS)"},
		&cli.StringFlag{Name: "cert", Usage: "client certificate `FILE` for mutual TLS"},
		&cli.StringFlag{Name: "key", Usage: "client key `FILE` for mutual TLS"},
		&cli.StringFlag{Name: "cert-dir", Usage: "`DIR` of client certificates (NAME.crt + NAME.key) to cycle through"},
		&cli.BoolFlag{Name: "insecure", Usage: "do not verify the broker's certificate"},
		&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "MQTT `USERNAME`"},
		&cli.StringFlag{Name: "password-file", Usage: "read the MQTT password from `FILE` (or set MQTT_PASSWORD)"},
		&cli.IntFlag{Name: "pid", Usage: "broker process `ID`: measure its CPU and memory (same machine)"},
		&cli.StringFlag{Name: "prefix", Value: "bench", Usage: "`PREFIX` of topics and client ids"},
		&cli.BoolFlag{Name: "json", Usage: "print the result as JSON"},
		&cli.BoolFlag{Name: "quiet", Usage: "no progress line"},
	}
}

func benchLoadFlags() []cli.Flag {
	return []cli.Flag{
		&cli.IntFlag{Name: "qos", Value: 0, Usage: "QoS of publishes and subscriptions: 0, 1 or 2"},
		&cli.IntFlag{Name: "size", Value: 64, Usage: "payload size in `BYTES` (at least 16)"},
		&cli.DurationFlag{Name: "duration", Value: 10 * time.Second, Usage: "how long to publish"},
		&cli.DurationFlag{Name: "warmup", Usage: "first part of the run not counted in rates and latency"},
		&cli.Float64Flag{Name: "rate", Usage: "total offered `MSGS` per second (0: as fast as possible)"},
		&cli.IntFlag{Name: "window", Value: 64, Usage: "unacknowledged QoS 1/2 publishes per publisher"},
		&cli.DurationFlag{Name: "drain", Value: 10 * time.Second, Usage: "longest wait for messages in flight after publishing"},
	}
}

func benchPubSubCmd() *cli.Command {
	return &cli.Command{
		Name:      "pubsub",
		Usage:     "P publisher/subscriber pairs, each on its own topic",
		UsageText: "mqtls bench pubsub [--pairs 4] [--qos 0] [--size 64] [--duration 10s] [--rate MSGS] [--url URL]",
		Flags: append(append([]cli.Flag{
			&cli.IntFlag{Name: "pairs", Value: 4, Usage: "publisher/subscriber pairs"},
		}, benchLoadFlags()...), benchTargetFlags()...),
		Action: func(c *cli.Context) error {
			t, l, err := benchSetup(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
			defer stop()
			res, err := bench.PubSub(ctx, bench.PubSubOptions{Target: t, Load: l, Pairs: c.Int("pairs")})
			return benchPrint(c, res, err)
		},
	}
}

func benchFanoutCmd() *cli.Command {
	return &cli.Command{
		Name:      "fanout",
		Usage:     "one publisher, N subscribers of its topic",
		UsageText: "mqtls bench fanout [--subscribers 10] [--qos 0] [--size 64] [--duration 10s] [--rate MSGS] [--url URL]",
		Flags: append(append([]cli.Flag{
			&cli.IntFlag{Name: "subscribers", Value: 10, Usage: "subscribers of the topic"},
		}, benchLoadFlags()...), benchTargetFlags()...),
		Action: func(c *cli.Context) error {
			t, l, err := benchSetup(c)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
			defer stop()
			res, err := bench.Fanout(ctx, bench.FanoutOptions{Target: t, Load: l, Subscribers: c.Int("subscribers")})
			return benchPrint(c, res, err)
		},
	}
}

func benchConnectCmd() *cli.Command {
	return &cli.Command{
		Name:      "connect",
		Usage:     "C connections, K at a time, over TCP, TLS or mutual TLS; then memory per idle connection",
		UsageText: "mqtls bench connect [--connections 1000] [--concurrency 16] [--hold 2s] [--url ssl://HOST:PORT --cafile FILE --cert-dir DIR] [--pid PID]",
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "connections", Value: 1000, Usage: "connections to open"},
			&cli.IntFlag{Name: "concurrency", Value: 16, Usage: "connects in progress at once"},
			&cli.DurationFlag{Name: "hold", Value: 2 * time.Second, Usage: "how long to hold the idle connections before reading the broker's memory"},
		}, benchTargetFlags()...),
		Action: func(c *cli.Context) error {
			t, err := benchTarget(c)
			if err != nil {
				return err
			}
			if c.Int("connections") < 1 || c.Int("concurrency") < 1 {
				return usageErrorf("--connections and --concurrency must be at least 1")
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
			defer stop()
			res, err := bench.Connect(ctx, bench.ConnectOptions{
				Target: t, Connections: c.Int("connections"), Concurrency: c.Int("concurrency"),
				Hold: c.Duration("hold"), Prefix: c.String("prefix"), PID: c.Int("pid"),
				Progress: benchProgress(c),
			})
			return benchPrint(c, res, err)
		},
	}
}

func benchFleetCmd() *cli.Command {
	return &cli.Command{
		Name:  "fleet",
		Usage: "N devices, each publishing once an interval; every message counted per device",
		UsageText: "mqtls bench fleet [--clients 1000] [--interval 1s] [--duration 60s] [--qos 1] [--subscribers N] " +
			"[--concurrency 16] [--connect-rate N] [--url ssl://HOST:PORT --cafile FILE --cert-dir DIR] [--pid PID]",
		Description: `The devices connect first, at most --concurrency at a time and --connect-rate per
   second; then each publishes one message every --interval for --duration,
   their slots spread evenly over the interval. Subscribers (one per 500
   devices unless --subscribers) count every message by device and sequence
   number: lost (accepted by the broker, never delivered), duplicated, and the
   connections the broker ended (each reconnected at its next slot).
   Exit 1 when a message was lost or a connection ended.

   Each connection is one open file here: the soft limit is raised to the
   hard one when needed, and a hard limit too low for the fleet is an error.`,
		Flags: append([]cli.Flag{
			&cli.IntFlag{Name: "clients", Value: 1000, Usage: "publishing devices"},
			&cli.DurationFlag{Name: "interval", Value: time.Second, Usage: "each device publishes once per interval"},
			&cli.DurationFlag{Name: "duration", Value: time.Minute, Usage: "how long the devices publish, once connected"},
			&cli.IntFlag{Name: "qos", Value: 1, Usage: "QoS of publishes and subscriptions: 0, 1 or 2"},
			&cli.IntFlag{Name: "size", Value: 64, Usage: "payload size in `BYTES` (at least 16)"},
			&cli.IntFlag{Name: "subscribers", Usage: "subscribers that count the messages (default one per 500 devices)"},
			&cli.IntFlag{Name: "concurrency", Value: 16, Usage: "connects in progress at once during the ramp"},
			&cli.Float64Flag{Name: "connect-rate", Usage: "at most `N` connects started per second during the ramp (0: no bound but --concurrency)"},
			&cli.DurationFlag{Name: "drain", Value: 10 * time.Second, Usage: "longest wait for messages in flight after publishing"},
		}, benchTargetFlags()...),
		Action: func(c *cli.Context) error {
			t, err := benchTarget(c)
			if err != nil {
				return err
			}
			q := c.Int("qos")
			if q < 0 || q > 2 {
				return usageErrorf("--qos %d: want 0, 1 or 2", q)
			}
			if c.Int("clients") < 1 || c.Int("concurrency") < 1 || c.Int("subscribers") < 0 {
				return usageErrorf("--clients and --concurrency must be at least 1, --subscribers not negative")
			}
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt)
			defer stop()
			res, err := bench.Fleet(ctx, bench.FleetOptions{
				Target: t, Clients: c.Int("clients"), Interval: c.Duration("interval"), Duration: c.Duration("duration"),
				QoS: byte(q), Payload: c.Int("size"), Subscribers: c.Int("subscribers"),
				Concurrency: c.Int("concurrency"), ConnectRate: c.Float64("connect-rate"), Drain: c.Duration("drain"),
				Prefix: c.String("prefix"), PID: c.Int("pid"), Progress: benchProgress(c),
			})
			return benchPrint(c, res, err)
		},
	}
}

func benchTarget(c *cli.Context) (bench.Target, error) {
	if c.NArg() > 0 {
		return bench.Target{}, usageErrorf("unexpected argument %q: the broker is given with --url", c.Args().First())
	}
	t := bench.Target{
		URL: c.String("url"), CAFile: c.String("cafile"), CertFile: c.String("cert"), KeyFile: c.String("key"),
		CertDir: c.String("cert-dir"), Insecure: c.Bool("insecure"), Username: c.String("username"),
	}
	if f := c.String("password-file"); f != "" {
		b, err := readSecretFile(f, "password file")
		if err != nil {
			return t, err
		}
		t.Password = string(b)
	} else if pw := os.Getenv("MQTT_PASSWORD"); pw != "" {
		t.Password = pw
	} else if pw := os.Getenv("MQTLS_PASSWORD"); pw != "" {
		// The old name, documented before bench used the variable of
		// every other command.
		warnf(c.App.ErrWriter, "$MQTLS_PASSWORD is deprecated: set $MQTT_PASSWORD instead")
		t.Password = pw
	}
	if t.Password != "" && t.Username == "" {
		return t, usageErrorf("flag '--password-file' requires the '--username' flag")
	}
	return t, nil
}

func benchSetup(c *cli.Context) (bench.Target, bench.Load, error) {
	t, err := benchTarget(c)
	if err != nil {
		return t, bench.Load{}, err
	}
	q := c.Int("qos")
	if q < 0 || q > 2 {
		return t, bench.Load{}, usageErrorf("--qos %d: want 0, 1 or 2", q)
	}
	l := bench.Load{
		QoS: byte(q), Payload: c.Int("size"), Duration: c.Duration("duration"), Warmup: c.Duration("warmup"),
		Rate: c.Float64("rate"), Window: c.Int("window"), Drain: c.Duration("drain"),
		Prefix: c.String("prefix"), PID: c.Int("pid"), Progress: benchProgress(c),
	}
	return t, l, nil
}

// benchProgress returns a progress printer for a terminal, else nil.
func benchProgress(c *cli.Context) func(bench.Progress) {
	w := c.App.ErrWriter
	if c.Bool("quiet") || c.Bool("json") || !isTerminal(w) {
		return nil
	}
	return func(p bench.Progress) {
		if p.Mode == "connect" {
			fmt.Fprintf(w, "\r%s %5.1fs  tried %d  connected %d   ", p.Mode, p.Elapsed.Seconds(), p.Sent, p.Received)
			return
		}
		fmt.Fprintf(w, "\r%s %5.1fs/%.0fs  sent %d  received %d   ", p.Mode, p.Elapsed.Seconds(), p.Total.Seconds(), p.Sent, p.Received)
	}
}

// tableWriter is a bench result that prints itself as a table.
type tableWriter interface {
	WriteTable(io.Writer) error
}

// benchPrint prints a result (even a partial one, after an interrupt) and
// returns the run's error.
func benchPrint[R tableWriter](c *cli.Context, res R, runErr error) error {
	w := c.App.Writer
	if benchProgress(c) != nil {
		fmt.Fprint(c.App.ErrWriter, "\r\033[K")
	}
	var zero R
	if any(res) != any(zero) {
		if c.Bool("json") {
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			if err := enc.Encode(res); err != nil {
				return err
			}
		} else if err := res.WriteTable(w); err != nil {
			return err
		}
	}
	if errors.Is(runErr, context.Canceled) {
		return errors.New("interrupted: any result above is partial")
	}
	if h := loginHint(c, runErr); h != "" {
		return withHint(runErr, h)
	}
	return runErr
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
