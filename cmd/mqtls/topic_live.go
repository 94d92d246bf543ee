package main

// topic lint --from-broker: the topics a broker carries, as a subscriber
// on '#' sees them.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/client"
	"mqtls/topic"
)

// fromBrokerFlags are lint's flags for --from-broker, beside the connection flags.
func fromBrokerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "from-broker", Usage: "lint the topics a broker carries (connection flags as for sub)"},
		&cli.StringSliceFlag{Name: "topic", Aliases: []string{"t"}, Usage: "with --from-broker, subscribe to `FILTER` (default '#', repeatable)"},
		&cli.IntFlag{Name: "timeout", Aliases: []string{"W"}, Value: 10, Usage: "with --from-broker, listen for `SECONDS`"},
		&cli.IntFlag{Name: "count", Aliases: []string{"C"}, Usage: "with --from-broker, stop after `N` messages"},
	}
}

// liveSamples subscribes with the connection flags and returns the topics
// seen (each with its QoS and retain flag once) until --count messages,
// --timeout or an interrupt. MQTT 5 asks for retain-as-published, so the
// retain flag of live messages is the publisher's; MQTT 3.1.1 cannot tell,
// so its samples carry no flags.
func liveSamples(c *cli.Context) ([]topic.Sample, error) {
	opts, _, err := connOptions(c)
	if err != nil {
		return nil, usageErrorf("%v", err)
	}
	if c.Int("timeout") < 1 || c.Int("count") < 0 {
		return nil, usageErrorf("flag '--timeout' needs a positive number of seconds and '--count' zero or more")
	}
	filters := c.StringSlice("topic")
	if len(filters) == 0 {
		filters = []string{"#"}
	}
	for _, f := range filters {
		if err := topic.ValidFilter(f); err != nil {
			return nil, usageErrorf("filter %q: %v", f, err)
		}
	}
	ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, time.Duration(c.Int("timeout"))*time.Second)
	defer cancel()

	conn, err := client.Connect(ctx, opts)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, fmt.Errorf("connect: no answer within %ds", c.Int("timeout"))
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	flags := conn.Version() == client.V5
	if !flags {
		warnf(c.App.ErrWriter, "MQTT 3.1.1 does not show the retain flag of live messages: the rules on QoS and retain are off (use -V 5)")
	}

	var (
		mu      sync.Mutex
		samples []topic.Sample
		seen    = map[topic.Sample]bool{}
		n       int
		full    = make(chan struct{})
	)
	handler := func(m client.Message) {
		mu.Lock()
		defer mu.Unlock()
		n++
		s := topic.Sample{Topic: m.Topic}
		if flags {
			s = topic.Sample{Topic: m.Topic, HasFlags: true, QoS: m.QoS, Retain: m.Retain}
		}
		if !seen[s] && len(samples) < topic.MaxSamples {
			seen[s] = true
			samples = append(samples, s)
		}
		if want := c.Int("count"); want > 0 && n == want {
			close(full)
		}
	}
	subs := make([]client.Subscription, len(filters))
	for i, f := range filters {
		subs[i] = client.Subscription{Filter: f, QoS: 2, RetainAsPublished: flags}
	}
	codes, err := conn.Subscribe(ctx, subs, handler)
	if err != nil {
		return nil, fmt.Errorf("subscribe: %w", err)
	}
	for i, code := range codes {
		if code >= 0x80 {
			return nil, withHint(fmt.Errorf("subscribe to %s: denied (SUBACK %d)", filters[i], code),
				"the broker's access rules must let this client subscribe; try a narrower -t filter")
		}
	}
	select {
	case <-full:
	case <-ctx.Done():
	case <-conn.Done():
		return nil, errors.New("the connection to the broker was lost")
	}
	mu.Lock()
	defer mu.Unlock()
	return append([]topic.Sample(nil), samples...), nil
}
