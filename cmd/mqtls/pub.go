package main

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/client"
	"mqtls/topic"
)

func pubCmd() *cli.Command {
	return &cli.Command{
		Name:      "pub",
		Usage:     "publish messages, as mosquitto_pub does (same flags, -d lines and exit codes)",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls pub -t test/topic -m 'hello'
       publish one message to the broker on localhost:1883
   $ mqtls pub -d -r -h 192.168.7.123 -u test --password-file pw.txt -t test/topic -m '{"greeting": "Cool MQTT2"}'
       a retained message, with mosquitto_pub's debug lines
   $ mqtls pub --cafile ca.crt --p12 DSN000001.p12 --p12-password-file DSN000001.p12.pass -h liot.com -t test/topic -m hi
       mutual TLS with the PKCS#12 bundle a phone would hold
   $ sensor | mqtls pub -t sensors/temp -l
       one message per line of standard input

The MQTT version is 5 unless -V says otherwise (mosquitto_pub defaults to 3.1.1:
pass -V 311 for exactly its behaviour). -P puts the password on the command
line, where other users can see it: prefer --password-file or $MQTT_PASSWORD.

Exit codes: 0 sent; 1 bad arguments or broker unreachable; 7 TLS failure;
otherwise the broker's CONNACK code (5 or 135: not authorized).`,
		Flags:        append(append(pubFlags(), propertyFlag()), connFlags()...),
		OnUsageError: onToolUsageError,
		Action:       pubAction,
	}
}

func pubFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "topic", Aliases: []string{"t"}, Usage: "`TOPIC` to publish to"},
		&cli.StringFlag{Name: "message", Aliases: []string{"m"}, Usage: "`MESSAGE` payload"},
		&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "send the content of `FILE` as the message"},
		&cli.BoolFlag{Name: "stdin-line", Aliases: []string{"l"}, Usage: "send each line of standard input as a message"},
		&cli.BoolFlag{Name: "stdin-file", Aliases: []string{"s"}, Usage: "send the whole of standard input as one message"},
		&cli.BoolFlag{Name: "null-message", Aliases: []string{"n"}, Usage: "send an empty message"},
		&cli.BoolFlag{Name: "retain", Aliases: []string{"r"}, Usage: "retain the message (an empty retained message clears it)"},
		&cli.IntFlag{Name: "qos", Aliases: []string{"q"}, Usage: "`QOS` 0, 1 or 2"},
		&cli.IntFlag{Name: "repeat", Value: 1, Usage: "publish the message `N` times (with -m, -f, -s or -n)"},
		&cli.Float64Flag{Name: "repeat-delay", Usage: "wait `SECONDS` between repeats"},
		&cli.IntFlag{Name: "max-inflight", Aliases: []string{"M"}, Usage: "accepted for compatibility; messages are sent one at a time"},
	}
}

func pubAction(c *cli.Context) error {
	opts, urlTopic, err := connOptions(c)
	if err != nil {
		return toolUsage(c, err)
	}
	props, err := applyProperties(c, &opts)
	if err != nil {
		return toolUsage(c, err)
	}
	if err := urlTopicNeeded(c, urlTopic); err != nil {
		return toolUsage(c, err)
	}
	tp := c.String("topic")
	if tp == "" {
		tp = urlTopic
	}
	sources := 0
	for _, n := range []string{"message", "file", "stdin-line", "stdin-file", "null-message"} {
		if c.IsSet(n) {
			sources++
		}
	}
	if tp == "" || sources == 0 {
		return toolUsage(c, errors.New("both topic and message must be supplied"))
	}
	if sources > 1 {
		return toolUsage(c, errors.New("give only one of -m, -f, -l, -s and -n"))
	}
	if err := topic.ValidName(tp); err != nil {
		return toolUsage(c, fmt.Errorf("invalid publish topic %q: %v", tp, err))
	}
	q := c.Int("qos")
	if q < 0 || q > 2 {
		return toolUsage(c, fmt.Errorf("qos %d is not 0, 1 or 2", q))
	}
	repeat := c.Int("repeat")
	if repeat < 1 {
		return toolUsage(c, fmt.Errorf("--repeat %d: give 1 or more", repeat))
	}
	if repeat > 1 && c.Bool("stdin-line") {
		return toolUsage(c, errors.New("--repeat works with -m, -f, -s or -n, not -l"))
	}
	delay := time.Duration(c.Float64("repeat-delay") * float64(time.Second))
	if delay < 0 {
		return toolUsage(c, errors.New("--repeat-delay must not be negative"))
	}

	var payload []byte
	switch {
	case c.IsSet("message"):
		payload = []byte(c.String("message"))
	case c.IsSet("file"):
		if payload, err = client.ReadPayloadFile(c.String("file")); err != nil {
			return toolFail(c, err)
		}
	case c.Bool("stdin-file"):
		if payload, err = client.ReadPayload(os.Stdin, client.MaxPayload, "standard input"); err != nil {
			return toolFail(c, err)
		}
	}

	out := c.App.Writer
	if c.Bool("debug") {
		opts.Debug = func(l string) { fmt.Fprintln(out, l) }
	}
	p := &client.Publisher{
		Topic: tp, QoS: byte(q), Retain: c.Bool("retain"), Props: props,
		Payload: payload, Repeat: repeat, RepeatDelay: delay,
	}
	if c.Bool("stdin-line") {
		p.Lines = os.Stdin
	}
	if !c.Bool("quiet") {
		w := c.App.ErrWriter
		p.Warn = func(m string) { warnf(w, "%s", m) }
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := p.Run(ctx, opts); err != nil {
		return toolFail(c, err)
	}
	return nil
}
