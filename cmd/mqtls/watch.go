package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

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
   $ mqtls watch --cafile ca.crt --p12 DSN000001.p12 -h liot.com -t 'DSN000001/#'
       over mutual TLS, with the connection flags of pub and sub

watch subscribes like any client, so it works against any broker and sees only
what the broker lets it read. The tree keeps at most --max-topics topics and
one line of each payload; q is the QoS of the last message, R marks topics
whose last retained message is still held. Press Ctrl-C to stop.

Exit codes: 0 done; 1 bad arguments, broker unreachable or connection lost;
7 TLS failure; otherwise the broker's CONNACK code.`,
		Flags: append([]cli.Flag{
			&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "`FILTER` to watch (repeatable; default #)"},
			&cli.BoolFlag{Name: "once", Usage: "print one plain snapshot and exit"},
			&cli.DurationFlag{Name: "wait", Value: time.Second, Usage: "with --once, collect for `DURATION` before printing"},
			&cli.DurationFlag{Name: "interval", Value: 500 * time.Millisecond, Usage: "redraw every `DURATION`"},
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
	if c.Duration("interval") <= 0 || c.Duration("wait") < 0 || c.Int("max-topics") <= 0 {
		return toolUsage(c, errors.New("--interval and --max-topics must be positive, --wait not negative"))
	}

	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	conn, err := client.Connect(ctx, opts)
	if err != nil {
		return toolFail(c, err)
	}
	defer conn.Close()
	tree := watch.New(c.Int("max-topics"))
	subs := make([]client.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = client.Subscription{Filter: f}
	}
	codes, err := conn.Subscribe(ctx, subs, func(m client.Message) {
		tree.Add(watch.Message{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Time: time.Now()})
	})
	if err != nil {
		return toolFail(c, err)
	}
	for i, code := range codes {
		if code >= 0x80 {
			warnf(c.App.ErrWriter, "the broker refused the subscription to %s (code %d): its access rules do not let this client read it", filters[i], code)
		}
	}
	header := fmt.Sprintf("mqtls watch  %s:%d  %s", opts.Host, opts.Port, strings.Join(filters, " "))
	if opts.Port == 0 {
		header = fmt.Sprintf("mqtls watch  %s  %s", opts.Host, strings.Join(filters, " "))
	}
	out := c.App.Writer

	if c.Bool("once") {
		select {
		case <-time.After(c.Duration("wait")):
		case <-ctx.Done():
		case <-conn.Done():
			return toolFail(c, errors.New("the connection was lost"))
		}
		return tree.Render(out, watch.View{Now: time.Now()})
	}

	f, isFile := out.(*os.File)
	tty := isFile && term.IsTerminal(int(f.Fd()))
	var screen *watch.Screen
	draw := func() error {
		v := watch.View{Now: time.Now(), Header: header + "  " + time.Now().Format("15:04:05")}
		if !tty {
			fmt.Fprintln(out)
			return tree.Render(out, v)
		}
		if w, h, err := term.GetSize(int(f.Fd())); err == nil {
			v.Width, v.Height = w, h
		}
		return screen.Draw(func(w io.Writer) error { return tree.Render(w, v) })
	}
	if tty {
		screen = watch.NewScreen(out)
		defer screen.Close()
	}
	tick := time.NewTicker(c.Duration("interval"))
	defer tick.Stop()
	for {
		if err := draw(); err != nil {
			return err
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return nil
		case <-conn.Done():
			return toolFail(c, errors.New("the connection was lost"))
		}
	}
}
