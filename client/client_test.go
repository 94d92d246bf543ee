package client_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// anonBroker starts a Mosquitto 2.0 that lets anyone in, on a free port.
func anonBroker(t *testing.T) int {
	t.Helper()
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	return port
}

func TestPublishSubscribeRoundTrip(t *testing.T) {
	port := anonBroker(t)
	for _, v := range []byte{client.V5, client.V311, client.V31} {
		t.Run(fmt.Sprintf("v%d", v), func(t *testing.T) {
			ctx := context.Background()
			opts := client.Options{Host: "127.0.0.1", Port: port, Version: v}
			sub, err := client.Connect(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			defer sub.Close()
			var mu sync.Mutex
			var got []client.Message
			topic := fmt.Sprintf("rt/%d/x", v)
			codes, err := sub.Subscribe(ctx, []client.Subscription{{Filter: fmt.Sprintf("rt/%d/#", v), QoS: 2}}, func(m client.Message) {
				mu.Lock()
				got = append(got, m)
				mu.Unlock()
			})
			if err != nil || len(codes) != 1 || codes[0] != 2 {
				t.Fatalf("subscribe: codes %v, err %v", codes, err)
			}
			pub, err := client.Connect(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			for q := byte(0); q <= 2; q++ {
				if err := pub.Publish(ctx, client.Message{Topic: topic, Payload: []byte{'a' + q}, QoS: q}); err != nil {
					t.Fatalf("publish qos %d: %v", q, err)
				}
			}
			if err := pub.Close(); err != nil {
				t.Fatal(err)
			}
			testutil.WaitFor(t, 10*time.Second, "three messages", func() bool {
				mu.Lock()
				defer mu.Unlock()
				return len(got) == 3
			})
			for i, m := range got {
				if m.Topic != topic || string(m.Payload) != string(rune('a'+i)) || m.QoS != byte(i) {
					t.Errorf("message %d: %+v", i, m)
				}
			}
		})
	}
}

func TestRefusedConnection(t *testing.T) {
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\n", port))
	for _, tc := range []struct {
		v    byte
		code int
	}{{client.V5, 135}, {client.V311, 5}} {
		_, err := client.Connect(context.Background(), client.Options{Host: "127.0.0.1", Port: port, Version: tc.v})
		var ce *client.ConnackError
		if !errors.As(err, &ce) || client.ExitCode(err) != tc.code {
			t.Errorf("v%d: got %v (exit %d), want a refusal with code %d", tc.v, err, client.ExitCode(err), tc.code)
		}
	}
}

func TestUnreachable(t *testing.T) {
	port := testutil.FreePort(t)
	_, err := client.Connect(context.Background(), client.Options{Host: "127.0.0.1", Port: port})
	var de *client.DialError
	if !errors.As(err, &de) || !strings.Contains(err.Error(), "connection refused") || client.ExitCode(err) != 1 {
		t.Fatalf("got %v", err)
	}
}

func TestDebugLinesOrder(t *testing.T) {
	port := anonBroker(t)
	ctx := context.Background()
	var mu sync.Mutex
	var lines []string
	log := func(s string) {
		mu.Lock()
		lines = append(lines, s)
		mu.Unlock()
	}
	c, err := client.Connect(ctx, client.Options{Host: "127.0.0.1", Port: port, Version: client.V311, ClientID: "dbg", Debug: log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Subscribe(ctx, []client.Subscription{{Filter: "dbg/#", QoS: 1}}, func(m client.Message) { log("message " + string(m.Payload)) }); err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(ctx, client.Message{Topic: "dbg/a", Payload: []byte("one"), QoS: 1}); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the message", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return slices.Contains(lines, "message one")
	})
	c.Close()
	want := []string{
		"Client dbg sending CONNECT",
		"Client dbg received CONNACK (0)",
		"Client dbg sending SUBSCRIBE (Mid: 1, Topic: dbg/#, QoS: 1, Options: 0x00)",
		"Client dbg received SUBACK",
		"Client dbg sending PUBLISH (d0, q1, r0, m2, 'dbg/a', ... (3 bytes))",
	}
	got := strings.Join(lines, "\n")
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Errorf("missing %q in\n%s", w, got)
		}
	}
	// The message is delivered after its PUBACK is sent, as libmosquitto does.
	ack := strings.Index(got, "sending PUBACK (m1, rc0)")
	msg := strings.Index(got, "message one")
	if ack < 0 || msg < ack || !strings.HasSuffix(got, "Client dbg sending DISCONNECT") {
		t.Errorf("order wrong:\n%s", got)
	}
}
