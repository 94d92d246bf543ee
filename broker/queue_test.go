package broker_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// queueBroker is a broker under test: its address and its log.
type queueBroker struct {
	addr string
	log  func() string
}

// queueBrokers runs fn against a real Mosquitto and against mqtls, each
// started with the same options on a plain listener.
func queueBrokers(t *testing.T, options string, fn func(t *testing.T, b queueBroker)) {
	t.Run("mosquitto", func(t *testing.T) {
		p := testutil.FreePort(t)
		m := testutil.Mosquitto(t, p, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type all\n%s", p, options))
		fn(t, queueBroker{addr: testutil.Addr(p), log: m.Stderr})
	})
	t.Run("mqtls", func(t *testing.T) {
		p := testutil.FreePort(t)
		b := startBroker(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_type all\n%s", p, options), p)
		fn(t, queueBroker{addr: testutil.Addr(p), log: b.Stderr})
	})
}

func (b queueBroker) dial(t *testing.T, ver byte, id string, clean bool) *rawClient {
	t.Helper()
	rc, _, err := dialRaw(b.addr, connectPacket(ver, id, clean, 0))
	if err != nil {
		t.Fatalf("connect %s: %v", id, err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

// next reads the next packet of type typ, within 5 s.
func next(t *testing.T, rc *rawClient, typ byte) packets.Packet {
	t.Helper()
	pk, err := rc.readTimeout(5 * time.Second)
	if err != nil {
		t.Fatalf("waiting for packet type %d: %v", typ, err)
	}
	if pk.FixedHeader.Type != typ {
		t.Fatalf("got packet type %d (%q), want %d", pk.FixedHeader.Type, pk.Payload, typ)
	}
	return pk
}

// subscribeQoS1 subscribes rc to filter at QoS 1.
func subscribeQoS1(t *testing.T, rc *rawClient, filter string) {
	t.Helper()
	mustSend(t, rc, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: filter, Qos: 1}}})
	next(t, rc, packets.Suback)
}

// publishAll publishes each payload to topic at qos and returns once the
// broker has handled them all (it answers a PINGREQ after them).
func publishAll(t *testing.T, pub *rawClient, topic string, qos byte, payloads ...string) {
	t.Helper()
	for i, p := range payloads {
		mustSend(t, pub, publishPacket(topic, []byte(p), qos, uint16(i+1)))
		if qos == 1 {
			next(t, pub, packets.Puback)
		}
	}
	mustSend(t, pub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	next(t, pub, packets.Pingresp)
}

// drain acknowledges every message as it arrives and returns the payloads
// up to and including the one that says end.
func drain(t *testing.T, rc *rawClient, got []string) []string {
	t.Helper()
	for {
		pk := next(t, rc, packets.Publish)
		got = append(got, string(pk.Payload))
		if pk.FixedHeader.Qos == 1 {
			mustSend(t, rc, ack(packets.Puback, pk.PacketID, 0))
		}
		if string(pk.Payload) == "end" {
			return got
		}
	}
}

func numbered(prefix string, n int) []string {
	var v []string
	for i := 1; i <= n; i++ {
		v = append(v, fmt.Sprintf("%s%d", prefix, i))
	}
	return v
}

// takeAcking reads n messages, acknowledging each, and returns their
// payloads.
func takeAcking(t *testing.T, rc *rawClient, n int) []string {
	t.Helper()
	var got []string
	for range n {
		pk := next(t, rc, packets.Publish)
		got = append(got, strings.TrimRight(string(pk.Payload), "."))
		mustSend(t, rc, ack(packets.Puback, pk.PacketID, 0))
	}
	return got
}

// syncPing returns once the broker has handled everything rc sent; no
// message may come before the PINGRESP.
func syncPing(t *testing.T, rc *rawClient) {
	t.Helper()
	mustSend(t, rc, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	next(t, rc, packets.Pingresp)
}

// TestQueueLimits: a v3 subscriber gets max_inflight_messages QoS 1
// messages plus max_queued_messages more; the rest of a burst is dropped,
// with one log line per connection. QoS 0 messages still go through.
// Mosquitto is the judge.
func TestQueueLimits(t *testing.T) {
	queueBrokers(t, "max_inflight_messages 2\nmax_queued_messages 3\n", func(t *testing.T, b queueBroker) {
		sub := b.dial(t, 4, "sub", true)
		subscribeQoS1(t, sub, "q/#")
		pub := b.dial(t, 4, "pub", true)
		publishAll(t, pub, "q/t", 1, numbered("m", 10)...)
		got := takeAcking(t, sub, 5)
		syncPing(t, sub)
		publishAll(t, pub, "q/z", 0, "zero")
		publishAll(t, pub, "q/t", 1, "end")
		got = drain(t, sub, got)
		if want := []string{"m1", "m2", "m3", "m4", "m5", "zero", "end"}; !slices.Equal(got, want) {
			t.Errorf("delivered %q, want %q", got, want)
		}
		testutil.WaitFor(t, 5*time.Second, "the drop's log line", func() bool {
			return strings.Count(b.log(), "Outgoing messages are being dropped for client sub.") == 1
		})
	})
}

// TestQueueBytes: with max_queued_bytes, QoS 1 messages are queued behind
// a v5 client's window while the payloads held for the client (in flight
// included) are under it.
func TestQueueBytes(t *testing.T) {
	queueBrokers(t, "max_queued_messages 0\nmax_queued_bytes 100\n", func(t *testing.T, b queueBroker) {
		cp := connectPacket(5, "sub", true, 0)
		cp.Properties.ReceiveMaximum = 1
		sub, _, err := dialRaw(b.addr, cp)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subscribeQoS1(t, sub, "q/#")
		pub := b.dial(t, 5, "pub", true)
		var payloads []string
		for _, p := range numbered("b", 10) {
			payloads = append(payloads, p+strings.Repeat(".", 40-len(p)))
		}
		publishAll(t, pub, "q/t", 1, payloads...)
		got := takeAcking(t, sub, 3)
		syncPing(t, sub)
		publishAll(t, pub, "q/t", 1, "end")
		got = drain(t, sub, got)
		if want := []string{"b1", "b2", "b3", "end"}; !slices.Equal(got, want) {
			t.Errorf("delivered %q, want %q (40-byte payloads, max_queued_bytes 100)", got, want)
		}
	})
}

// TestQueueOffline: a disconnected client's session holds
// max_queued_messages QoS 1 messages; the rest are dropped.
func TestQueueOffline(t *testing.T) {
	queueBrokers(t, "max_queued_messages 3\n", func(t *testing.T, b queueBroker) {
		sub := b.dial(t, 4, "sub", false)
		subscribeQoS1(t, sub, "q/#")
		mustSend(t, sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
		sub.Close()
		pub := b.dial(t, 4, "pub", true)
		testutil.WaitFor(t, 5*time.Second, "the subscriber's disconnection", func() bool {
			return strings.Contains(b.log(), "Client sub disconnected")
		})
		publishAll(t, pub, "q/t", 1, numbered("m", 10)...)
		sub = b.dial(t, 4, "sub", false)
		got := takeAcking(t, sub, 3)
		syncPing(t, sub)
		publishAll(t, pub, "q/t", 1, "end")
		got = drain(t, sub, got)
		if want := []string{"m1", "m2", "m3", "end"}; !slices.Equal(got, want) {
			t.Errorf("delivered %q, want %q", got, want)
		}
	})
}

// TestQueueReceiveMaximum: a v5 client's Receive Maximum, not
// max_inflight_messages, is its window; max_queued_messages wait behind it.
func TestQueueReceiveMaximum(t *testing.T) {
	queueBrokers(t, "max_inflight_messages 5\nmax_queued_messages 2\n", func(t *testing.T, b queueBroker) {
		cp := connectPacket(5, "sub", true, 0)
		cp.Properties.ReceiveMaximum = 1
		sub, _, err := dialRaw(b.addr, cp)
		if err != nil {
			t.Fatal(err)
		}
		defer sub.Close()
		subscribeQoS1(t, sub, "q/#")
		pub := b.dial(t, 5, "pub", true)
		publishAll(t, pub, "q/t", 1, numbered("m", 10)...)
		pk := next(t, sub, packets.Publish)
		publishAll(t, pub, "q/z", 0, "zero")
		if z := next(t, sub, packets.Publish); string(z.Payload) != "zero" {
			t.Fatalf("after 1 message in flight: got %q, want the QoS 0 message", z.Payload)
		}
		mustSend(t, sub, ack(packets.Puback, pk.PacketID, 0))
		got := append([]string{string(pk.Payload)}, takeAcking(t, sub, 2)...)
		syncPing(t, sub)
		publishAll(t, pub, "q/t", 1, "end")
		got = drain(t, sub, got)
		if want := []string{"m1", "m2", "m3", "end"}; !slices.Equal(got, want) {
			t.Errorf("delivered %q, want %q", got, want)
		}
	})
}
