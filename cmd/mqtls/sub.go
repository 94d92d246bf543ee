package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/client"
	"mqtls/topic"
)

func subCmd() *cli.Command {
	return &cli.Command{
		Name:      "sub",
		Usage:     "subscribe and print messages, as mosquitto_sub does (same flags, -d lines, -F formats and exit codes)",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls sub -v -t 'test/#'
       print "topic payload" for every message under test/
   $ mqtls sub -d -k 10 -v -h localhost -u test --password-file pw.txt -t test/topic
       the seed's recipe, with mosquitto_sub's debug lines
   $ mqtls sub -i DSN000001 -h liot.com -p 8883 --cafile ca.crt --cert client.crt --key client.key -t test/topic
       mutual TLS, as a device
   $ mqtls sub -t 'sensors/#' -C 1 -W 5 -F '%t %p'
       wait at most 5 seconds for one message, printed with a format
   $ mqtls sub -t 'sensors/#' -v --pretty
       pretty-print JSON payloads

The MQTT version is 5 unless -V says otherwise (mosquitto_sub defaults to 3.1.1:
pass -V 311 for exactly its behaviour). -P puts the password on the command
line, where other users can see it: prefer --password-file or $MQTT_PASSWORD.

-F tokens: %t topic, %p payload, %q qos, %r retain, %l length, %m message id,
%x/%X payload in hex, %j/%J JSON (payload escaped / as JSON), %I ISO 8601 time,
%U unix time, %A %C %D %E %F %P %R %S MQTT 5 properties, %% a percent sign;
@Y @m @d @H @M @S ... strftime fields, @N nanoseconds, @@ an at sign;
\n \t \e \\ ... escapes. Widths, precision, '-' and '0' work as in mosquitto_sub.

A lost connection is made again, once a second, as mosquitto_sub does.

Exit codes: 0 done; 1 bad arguments or broker unreachable;
7 TLS failure; 27 -W timed out; otherwise the broker's CONNACK code
(5 or 135: not authorized).`,
		Flags:        append(append(subFlags(), propertyFlag()), connFlags()...),
		OnUsageError: onToolUsageError,
		Action:       subAction,
	}
}

func subFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "`FILTER` to subscribe to (repeatable)"},
		&cli.StringSliceFlag{Name: "filter-out", Aliases: []string{"T"}, Usage: "do not print messages matching `FILTER` (repeatable)"},
		&cli.StringSliceFlag{Name: "unsubscribe", Aliases: []string{"U"}, Usage: "unsubscribe from `FILTER` after subscribing (repeatable)"},
		&cli.IntFlag{Name: "qos", Aliases: []string{"q"}, Usage: "`QOS` of the subscriptions"},
		&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "print the topic before the payload"},
		&cli.BoolFlag{Name: "no-eol", Aliases: []string{"N"}, Usage: "print no line end after each message"},
		&cli.IntFlag{Name: "count", Aliases: []string{"C"}, Usage: "exit after `N` messages"},
		&cli.BoolFlag{Name: "no-retain", Aliases: []string{"R"}, Usage: "skip retained messages"},
		&cli.BoolFlag{Name: "retained-only", Usage: "print retained messages only; exit at the first live one"},
		&cli.BoolFlag{Name: "remove-retained", Usage: "clear each retained message received (not those matching -T)"},
		&cli.BoolFlag{Name: "retain-as-published", Usage: "MQTT 5: keep the retain flag as published"},
		&cli.BoolFlag{Name: "exit-after-suback", Aliases: []string{"E"}, Usage: "exit once the subscriptions are acknowledged"},
		&cli.IntFlag{Name: "timeout", Aliases: []string{"W"}, Usage: "exit after `SECONDS` with code 27"},
		&cli.StringFlag{Name: "format", Aliases: []string{"F"}, Usage: "print each message with `FORMAT` (see below)"},
		&cli.BoolFlag{Name: "pretty", Usage: "pretty-print JSON: payloads of -v and plain output, and -F %j/%J"},
		&cli.Float64Flag{Name: "random-filter", Value: 100, Usage: "print only `PERCENT` of the messages, at random"},
	}
}

func subAction(c *cli.Context) error {
	opts, urlTopic, err := connOptions(c)
	if err != nil {
		return toolUsage(c, err)
	}
	if _, err := applyProperties(c, &opts); err != nil {
		return toolUsage(c, err)
	}
	if err := urlTopicNeeded(c, urlTopic); err != nil {
		return toolUsage(c, err)
	}
	filters := c.StringSlice("topic")
	if urlTopic != "" {
		filters = append(filters, urlTopic)
	}
	if len(filters) == 0 {
		return toolUsage(c, errors.New("you must specify a topic to subscribe to"))
	}
	for _, f := range append(append([]string{}, filters...), c.StringSlice("filter-out")...) {
		if err := topic.ValidFilter(f); err != nil {
			return toolUsage(c, fmt.Errorf("invalid subscription topic %q, are all '+' and '#' wildcards correct?", f))
		}
	}
	q := c.Int("qos")
	if q < 0 || q > 2 {
		return toolUsage(c, fmt.Errorf("qos %d is not 0, 1 or 2", q))
	}
	if c.Int("count") < 0 || c.Int("timeout") < 0 {
		return toolUsage(c, errors.New("-C and -W take a positive number"))
	}
	if c.IsSet("format") {
		if err := client.CheckFormat(c.String("format")); err != nil {
			return toolUsage(c, fmt.Errorf("-F %q: %w", c.String("format"), err))
		}
	}
	if rf := c.Float64("random-filter"); rf < 0.1 || rf > 100 {
		return toolUsage(c, errors.New("--random-filter takes a percentage from 0.1 to 100"))
	}

	out := c.App.Writer
	if c.Bool("debug") {
		opts.Debug = func(l string) { fmt.Fprintln(out, l) }
		opts.DebugSubscribed = !c.Bool("quiet")
	}
	s := &client.Subscriber{
		FilterOut:       c.StringSlice("filter-out"),
		Unsubscribe:     c.StringSlice("unsubscribe"),
		Count:           c.Int("count"),
		NoRetain:        c.Bool("no-retain"),
		RetainedOnly:    c.Bool("retained-only"),
		RemoveRetained:  c.Bool("remove-retained"),
		ExitAfterSuback: c.Bool("exit-after-suback"),
		Timeout:         time.Duration(c.Int("timeout")) * time.Second,
		RandomFilter:    c.Float64("random-filter"),
		Print:           subPrinter(c, out),
	}
	for _, f := range filters {
		sub := client.Subscription{Filter: f, QoS: byte(q), RetainAsPublished: c.Bool("retain-as-published")}
		if c.Bool("no-retain") && opts.Version == client.V5 {
			sub.RetainHandling = 2
		}
		s.Subs = append(s.Subs, sub)
	}
	if !c.Bool("quiet") {
		w := c.App.ErrWriter
		s.Warn = func(m string) { warnf(w, "%s", m) }
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Run(ctx, opts); err != nil {
		return toolFail(c, err)
	}
	return nil
}

// subPrinter prints a message as mosquitto_sub does: with -F, -v or alone,
// -N dropping the line end.
func subPrinter(c *cli.Context, out io.Writer) func(client.Message) {
	eol := "\n"
	if c.Bool("no-eol") {
		eol = ""
	}
	pretty := c.Bool("pretty")
	format, hasFormat := c.String("format"), c.IsSet("format")
	verbose, quiet := c.Bool("verbose"), c.Bool("quiet")
	errw := c.App.ErrWriter
	return func(m client.Message) {
		var s string
		switch {
		case hasFormat:
			var err error
			s, err = client.Format(format, m, time.Now(), pretty)
			if err != nil && !quiet {
				fmt.Fprintf(errw, "mqtls: error: %v\n", err)
			}
			s += eol
		case verbose:
			if len(m.Payload) == 0 {
				if eol == "" {
					return
				}
				s = m.Topic + " (null)" + eol
			} else {
				s = m.Topic + " " + payloadText(m.Payload, pretty) + eol
			}
		default:
			if len(m.Payload) == 0 {
				return
			}
			s = payloadText(m.Payload, pretty) + eol
		}
		io.WriteString(out, s)
	}
}

func payloadText(p []byte, pretty bool) string {
	if pretty {
		if s, ok := client.PrettyJSON(p); ok {
			return s
		}
	}
	return string(p)
}
