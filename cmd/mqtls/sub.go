package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"sync"
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

// subState is what the message handler of sub shares with the main flow.
type subState struct {
	c       *cli.Context
	out     io.Writer
	conn    *client.Conn
	count   int
	stop    chan struct{}
	stopped bool
	mu      sync.Mutex
	n       int
	removes sync.WaitGroup
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

	st := &subState{c: c, out: c.App.Writer, count: c.Int("count"), stop: make(chan struct{})}
	if c.Bool("debug") {
		opts.Debug = func(l string) { fmt.Fprintln(st.out, l) }
		opts.DebugSubscribed = !c.Bool("quiet")
	}
	// One handler for everything, as mosquitto_sub has: a kept session's
	// messages can come before the SUBACK.
	opts.OnMessage = st.onMessage
	if c.Bool("exit-after-suback") {
		// mosquitto_sub -E disconnects at the SUBACK: nothing after it is shown.
		opts.OnMessage = func(client.Message) {}
		opts.DebugStopAtSuback = true
	}
	var timeout <-chan time.Time
	if w := c.Int("timeout"); w > 0 {
		timeout = time.After(time.Duration(w) * time.Second)
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()

	subs := make([]client.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = client.Subscription{Filter: f, QoS: byte(q), RetainAsPublished: c.Bool("retain-as-published")}
		if c.Bool("no-retain") && opts.Version == client.V5 {
			subs[i].RetainHandling = 2
		}
	}
	// Like mosquitto_sub, a lost connection is made again (once a second),
	// but a first connection that fails is the end.
	for first := true; ; first = false {
		lost, err := subSession(ctx, st, opts, subs, timeout)
		if !lost {
			return err
		}
		var ce *client.ConnackError
		if err != nil && (first || errors.As(err, &ce)) {
			return toolFail(c, err)
		}
		if !c.Bool("quiet") {
			msg := "the connection was lost"
			if err != nil {
				msg = err.Error()
			}
			warnf(c.App.ErrWriter, "%s; connecting again in a second", msg)
		}
		select {
		case <-time.After(time.Second):
		case <-timeout:
			return subTimedOut(c)
		case <-ctx.Done():
			return nil
		}
	}
}

// subSession connects, subscribes and prints messages until the end (lost
// false, err the command's result) or until the connection is lost or
// cannot be made (lost true, err the reason if any).
func subSession(ctx context.Context, st *subState, opts client.Options, subs []client.Subscription, timeout <-chan time.Time) (lost bool, err error) {
	c := st.c
	type connected struct {
		conn *client.Conn
		err  error
	}
	cc := make(chan connected, 1)
	go func() {
		conn, err := client.Connect(ctx, opts)
		cc <- connected{conn, err}
	}()
	var conn *client.Conn
	select {
	case r := <-cc:
		if r.err != nil {
			return true, r.err
		}
		conn = r.conn
	case <-timeout:
		return false, subTimedOut(c)
	}
	st.mu.Lock()
	st.conn = conn
	st.mu.Unlock()
	defer conn.Close()

	codes, err := conn.Subscribe(ctx, subs, nil)
	if err != nil {
		select {
		case <-conn.Done():
			return true, nil
		default:
			return false, toolFail(c, err)
		}
	}
	denied := 0
	for _, code := range codes {
		if code >= 0x80 {
			denied++
		}
	}
	if denied > 0 && denied < len(codes) && !c.Bool("quiet") {
		for i, code := range codes {
			if code >= 0x80 {
				warnf(c.App.ErrWriter, "subscription to %q denied (SUBACK %d: %s)", subs[i].Filter, code, client.ReasonString(conn.Version(), code))
			}
		}
	}
	if denied == len(codes) {
		conn.Close()
		// mosquitto_sub exits 0 here too.
		if !c.Bool("quiet") {
			warnf(c.App.ErrWriter, "all subscription requests were denied (SUBACK %d: %s): the broker's access rules do not let this client subscribe",
				codes[0], client.ReasonString(conn.Version(), codes[0]))
		}
		return false, nil
	}
	if c.Bool("exit-after-suback") {
		return false, subClose(st)
	}
	if u := c.StringSlice("unsubscribe"); len(u) > 0 {
		if err := conn.Unsubscribe(ctx, u...); err != nil {
			return false, toolFail(c, err)
		}
	}

	select {
	case <-st.stop:
		return false, subClose(st)
	case <-conn.Done():
		return true, nil
	case <-timeout:
		st.halt()
		subClose(st)
		return false, subTimedOut(c)
	case <-ctx.Done():
		return false, subClose(st)
	}
}

func subTimedOut(c *cli.Context) error {
	if c.Bool("quiet") {
		return cli.Exit("", client.ExitTimeout)
	}
	return cli.Exit("timed out", client.ExitTimeout)
}

func subClose(st *subState) error {
	st.removes.Wait()
	if err := st.conn.Close(); err != nil {
		return toolFail(st.c, err)
	}
	return nil
}

// halt stops message processing; it reports whether this call did it.
func (st *subState) halt() bool {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.stopped {
		return false
	}
	st.stopped = true
	close(st.stop)
	return true
}

// onMessage follows mosquitto_sub's message callback step for step.
func (st *subState) onMessage(m client.Message) {
	c := st.c
	st.mu.Lock()
	stopped := st.stopped
	st.mu.Unlock()
	if stopped {
		return
	}
	if c.Bool("retained-only") && !m.Retain {
		st.halt()
		return
	}
	if m.Retain && c.Bool("no-retain") {
		return
	}
	for _, f := range c.StringSlice("filter-out") {
		if topic.Match(f, m.Topic) {
			return
		}
	}
	st.mu.Lock()
	conn := st.conn
	st.mu.Unlock()
	if c.Bool("remove-retained") && m.Retain && conn != nil {
		st.removes.Add(1)
		go func() {
			defer st.removes.Done()
			conn.Publish(c.Context, client.Message{Topic: m.Topic, QoS: 1, Retain: true})
		}()
	}
	st.print(m)
	if st.count > 0 {
		st.mu.Lock()
		st.n++
		done := st.n == st.count
		st.mu.Unlock()
		if done {
			st.halt()
		}
	}
}

func (st *subState) print(m client.Message) {
	c := st.c
	if rf := c.Float64("random-filter"); rf < 100 && rand.Float64()*100 >= rf {
		return
	}
	eol := "\n"
	if c.Bool("no-eol") {
		eol = ""
	}
	pretty := c.Bool("pretty")
	var s string
	switch {
	case c.IsSet("format"):
		var err error
		s, err = client.Format(c.String("format"), m, time.Now(), pretty)
		if err != nil && !c.Bool("quiet") {
			fmt.Fprintf(c.App.ErrWriter, "mqtls: error: %v\n", err)
		}
		s += eol
	case c.Bool("verbose"):
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
	io.WriteString(st.out, s)
}

func payloadText(p []byte, pretty bool) string {
	if pretty {
		if s, ok := client.PrettyJSON(p); ok {
			return s
		}
	}
	return string(p)
}
