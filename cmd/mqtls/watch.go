package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/client"
	"mqtls/inspector/watch"
	"mqtls/topic"
)

func watchCmd() *cli.Command {
	return &cli.Command{
		Name:      "watch",
		Usage:     "a live tree of topics in the terminal: counts, rates and last payloads (any broker)",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls watch
       every topic of the broker on localhost:1883, redrawn in place
   $ mqtls watch -t 'devices/+/telemetry' -u admin --password-file admin.pw
       only the telemetry topics, logged in
   $ mqtls watch --once -t 'plant/#' --wait 2s
       print one snapshot after collecting for 2 seconds (retained messages
       arrive at once), for scripts
   $ mqtls watch --once --json -t 'plant/#'
       the same snapshot as JSON
   $ mqtls watch --cafile ca.crt --p12 DSN000001.p12 -h liot.com -t 'DSN000001/#'
       over mutual TLS, with the connection flags of pub and sub

watch subscribes like any client, so it works against any broker and sees only
what the broker lets it read. The tree keeps at most --max-topics topics and
one line of each payload; q is the QoS of the last message, R marks topics
whose last retained message is still held. On a terminal the view is
interactive: arrows (or j/k, PgUp/PgDn, Home/End) move, Enter or left/right
collapse and expand, / filters (a word or an MQTT filter), q quits; the title
stays on top.

Exit codes: 0 done; 1 bad arguments, broker unreachable or connection lost;
7 TLS failure; otherwise the broker's CONNACK code.`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "`FILTER` to watch (repeatable; default #)"},
			&cli.BoolFlag{Name: "once", Usage: "print one plain snapshot and exit"},
			&cli.BoolFlag{Name: "json", Usage: "with --once, print the snapshot as JSON"},
			&cli.DurationFlag{Name: "wait", Value: time.Second, Usage: "with --once, collect for `DURATION` before printing"},
			&cli.DurationFlag{Name: "interval", Value: watch.DefaultInterval, Usage: "redraw every `DURATION`"},
			&cli.IntFlag{Name: "max-topics", Value: watch.DefaultMaxTopics, Usage: "keep at most `N` topics"},
		}, connFlags()...),
		OnUsageError: onToolUsageError,
		Action:       watchAction,
	}
}

func watchAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return toolUsage(c, fmt.Errorf("unexpected argument %q", c.Args().First()))
	}
	opts, urlTopic, err := connOptions(c)
	if err != nil {
		return toolUsage(c, err)
	}
	filters := c.StringSlice("topic")
	if urlTopic != "" {
		filters = append(filters, urlTopic)
	}
	if len(filters) == 0 {
		filters = []string{"#"}
	}
	for _, f := range filters {
		if err := topic.ValidFilter(f); err != nil {
			return toolUsage(c, fmt.Errorf("invalid filter %q: %v", f, err))
		}
	}
	if c.Bool("json") && !c.Bool("once") {
		return toolUsage(c, errors.New("--json is for --once snapshots: add --once"))
	}
	if c.Duration("interval") <= 0 || c.Duration("wait") < 0 || c.Int("max-topics") <= 0 {
		return toolUsage(c, errors.New("--interval and --max-topics must be positive, --wait not negative"))
	}
	header := fmt.Sprintf("mqtls watch  %s:%d  %s", opts.Host, opts.Port, strings.Join(filters, " "))
	if opts.Port == 0 {
		header = fmt.Sprintf("mqtls watch  %s  %s", opts.Host, strings.Join(filters, " "))
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := client.Connect(ctx, opts)
	if err != nil {
		return toolFail(c, err)
	}
	defer conn.Close()
	err = watch.Run(ctx, conn, c.App.Writer, watch.Options{
		Filters: filters, MaxTopics: c.Int("max-topics"), Interval: c.Duration("interval"),
		Once: c.Bool("once"), Wait: c.Duration("wait"), JSON: c.Bool("json"), In: os.Stdin, Header: header,
		Refused: func(filter string, code byte) {
			warnf(c.App.ErrWriter, "the broker refused the subscription to %s (code %d): its access rules do not let this client read it", filter, code)
		},
	})
	if err != nil {
		return toolFail(c, err)
	}
	return nil
}
