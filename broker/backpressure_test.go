package broker_test

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"mqtls/internal/testutil"
)

// connectPaho connects an MQTT 3.1.1 client with a clean session.
func connectPaho(t *testing.T, port int, id string, opts func(*paho.ClientOptions)) paho.Client {
	t.Helper()
	o := paho.NewClientOptions().AddBroker("tcp://" + testutil.Addr(port)).SetClientID(id).
		SetCleanSession(true).SetAutoReconnect(false).SetConnectRetry(false).
		SetWriteTimeout(30 * time.Second)
	if opts != nil {
		opts(o)
	}
	c := paho.NewClient(o)
	if tok := c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s: %v", id, tok.Error())
	}
	t.Cleanup(func() { c.Disconnect(0) })
	return c
}

// TestQoS1BurstNotLost: four publishers send a burst of QoS 1 messages, all
// at once and without waiting for acknowledgements, to one subscriber. The
// burst is 20 times the subscriber's outbound queue (1024), so the broker
// cannot keep it all queued: without backpressure mochi drops the messages
// that find the queue full. Every message must arrive, counted one by one.
func TestQoS1BurstNotLost(t *testing.T) {
	const pubs, each = 4, 5000
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), p)

	var mu sync.Mutex
	got := map[uint64]bool{}
	sub := connectPaho(t, p, "bp-sub", nil)
	if tok := sub.Subscribe("bp/#", 1, func(_ paho.Client, m paho.Message) {
		if len(m.Payload()) < 8 {
			return
		}
		mu.Lock()
		got[binary.BigEndian.Uint64(m.Payload())] = true
		mu.Unlock()
	}); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("subscribe: %v", tok.Error())
	}

	var wg sync.WaitGroup
	for i := range pubs {
		c := connectPaho(t, p, fmt.Sprintf("bp-pub%d", i), nil)
		wg.Add(1)
		go func() {
			defer wg.Done()
			toks := make([]paho.Token, 0, each)
			for n := range each {
				msg := make([]byte, 64)
				binary.BigEndian.PutUint64(msg, uint64(i)<<32|uint64(n))
				toks = append(toks, c.Publish(fmt.Sprintf("bp/%d", i), 1, false, msg))
			}
			for n, tok := range toks {
				if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
					t.Errorf("publisher %d message %d not acknowledged: %v", i, n, tok.Error())
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(got)
	}
	// The broker acknowledged every publish; now count what arrives. A
	// message mochi dropped never comes, so stop once nothing has arrived
	// for 5 s (250 polls) rather than at a deadline.
	last, same := -1, 0
	testutil.WaitFor(t, 2*time.Minute, "the subscriber to receive every message or stop receiving", func() bool {
		n := received()
		if n == pubs*each {
			return true
		}
		if n == last {
			same++
		} else {
			last, same = n, 0
		}
		return same > 250
	})
	if n := received(); n != pubs*each {
		log := b.Stderr()
		t.Fatalf("subscriber received %d of %d QoS 1 messages: %d lost\nbroker log ends:\n%s", n, pubs*each, pubs*each-n, log[max(0, len(log)-600):])
	}
}

// TestStuckSubscriberDoesNotHoldPublisher: a subscriber that never reads
// its socket (so never acknowledges) must not hold a publisher for good:
// backpressure waits are bounded, and after one timeout nobody waits for
// that subscriber again. Every publish is acknowledged.
func TestStuckSubscriberDoesNotHoldPublisher(t *testing.T) {
	const total = 3000
	dir := t.TempDir()
	p := testutil.FreePort(t)
	startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), p)

	// A raw MQTT 3.1.1 client: CONNECT (clean session, no keep-alive),
	// SUBSCRIBE stuck/# at QoS 1, read CONNACK and SUBACK, then nothing.
	conn, err := net.Dial("tcp", testutil.Addr(p))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	id := "bp-stuck"
	connect := append([]byte{0x10, byte(12 + len(id)), 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 0, 0, byte(len(id))}, id...)
	filter := "stuck/#"
	subscribe := append([]byte{0x82, byte(5 + len(filter)), 0, 1, 0, byte(len(filter))}, filter...)
	subscribe = append(subscribe, 1)
	if _, err := conn.Write(append(connect, subscribe...)); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	acks := make([]byte, 4+5)
	if _, err := io.ReadFull(conn, acks); err != nil {
		t.Fatalf("read CONNACK and SUBACK: %v", err)
	}
	if acks[0] != 0x20 || acks[3] != 0 || acks[4] != 0x90 || acks[8] != 1 {
		t.Fatalf("CONNACK and SUBACK: % x", acks)
	}

	pub := connectPaho(t, p, "bp-pub", nil)
	toks := make([]paho.Token, 0, total)
	for range total {
		toks = append(toks, pub.Publish("stuck/t", 1, false, make([]byte, 512)))
	}
	for n, tok := range toks {
		if !tok.WaitTimeout(60*time.Second) || tok.Error() != nil {
			t.Fatalf("message %d of %d not acknowledged by the broker: %v", n, total, tok.Error())
		}
	}
}
