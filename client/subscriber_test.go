package client_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"mqtls/client"
)

// TestSubscriber runs the mosquitto_sub loop against a real Mosquitto:
// -T and -C on retained messages, the filters of a 3.1.1 SUBSCRIBE in
// order, and -W.
func TestSubscriber(t *testing.T) {
	port := anonBroker(t)
	ctx := context.Background()
	pub, err := client.Connect(ctx, client.Options{Host: "127.0.0.1", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	for _, tp := range []string{"s/a", "s/b", "s/c", "s/d"} {
		if err := pub.Publish(ctx, client.Message{Topic: tp, Payload: []byte(tp), QoS: 1, Retain: true}); err != nil {
			t.Fatal(err)
		}
	}
	pub.Close()

	for name, v := range map[string]byte{"5": client.V5, "311": client.V311} {
		t.Run(name, func(t *testing.T) {
			var got, lines []string
			s := &client.Subscriber{
				// Mosquitto sends the retained messages subscription by subscription.
				Subs:      []client.Subscription{{Filter: "s/d"}, {Filter: "s/b"}, {Filter: "s/a"}, {Filter: "s/c"}},
				FilterOut: []string{"s/b"},
				Count:     2,
				Print:     func(m client.Message) { got = append(got, m.Topic) },
			}
			o := client.Options{Host: "127.0.0.1", Port: port, Version: v, Debug: func(l string) { lines = append(lines, l) }}
			if err := s.Run(ctx, o); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, []string{"s/d", "s/a"}) {
				t.Errorf("printed %v, want [s/d s/a]", got)
			}
			// Nothing read after the second message is reported.
			want := []string{" received PUBLISH (d0, q0, r1, m0, 's/a', ... (3 bytes))", " sending DISCONNECT"}
			if n := len(lines); n < 2 || !strings.HasSuffix(lines[n-2], want[0]) || !strings.HasSuffix(lines[n-1], want[1]) {
				t.Errorf("debug lines end:\n%q\nwant\n%q", lines, want)
			}
		})
	}

	s := &client.Subscriber{Subs: []client.Subscription{{Filter: "none/#"}}, Timeout: 200 * time.Millisecond, Print: func(client.Message) {}}
	err = s.Run(ctx, client.Options{Host: "127.0.0.1", Port: port})
	if !errors.Is(err, client.ErrTimedOut) || client.ExitCode(err) != client.ExitTimeout {
		t.Errorf("-W: %v (exit %d), want timed out (27)", err, client.ExitCode(err))
	}
}
