package broker_test

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/mqttraw"
	"mqtls/internal/testutil"
)

// TestPublishersUnderBackpressureBounded: 400 devices publish QoS 1 (and
// 20 more QoS 0) while every subscriber has stopped reading, four at QoS 1
// and one at QoS 0, as in a fleet whose counting subscribers fell behind.
// The broker's resident memory stays within a bound of the baseline and
// every QoS 1 publish is acknowledged. Before, each connection that
// published QoS 1 allocated a channel of 1,032 full packets for its acks
// (840 KB that the collector scans, so resident): 400 publishers took the
// broker about 330 MiB over its baseline, a fleet of 10,000 to 3.1 GiB.
func TestPublishersUnderBackpressureBounded(t *testing.T) {
	if testing.Short() {
		t.Skip("420 connections")
	}
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), p)
	pid := b.Cmd.Process.Pid
	addr := testutil.Addr(p)
	dial := func(id string) *mqttraw.Conn {
		t.Helper()
		c, err := mqttraw.Dial(addr, 4)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		if err := c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
			Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 600, ClientIdentifier: id}}); err != nil {
			t.Fatal(err)
		}
		if pk, err := c.Recv(10 * time.Second); err != nil || pk.FixedHeader.Type != packets.Connack {
			t.Fatalf("%s: no CONNACK (%v)", id, err)
		}
		return c
	}
	for i, qos := range []byte{1, 1, 1, 1, 0} {
		s := dial(fmt.Sprintf("stalled%d", i))
		if err := s.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
			Filters: packets.Subscriptions{{Filter: "fleet/#", Qos: qos}}}); err != nil {
			t.Fatal(err)
		}
		if pk, err := s.Recv(10 * time.Second); err != nil || pk.FixedHeader.Type != packets.Suback {
			t.Fatalf("no SUBACK (%v)", err)
		}
		// It reads nothing more.
	}
	const pubs, qos0, perPub, window = 400, 20, 60, 10
	conns := make([]*mqttraw.Conn, pubs+qos0)
	for i := range conns {
		conns[i] = dial(fmt.Sprintf("dev%d", i))
	}
	base := freeAndMeasure(t, b)
	payload := []byte(strings.Repeat("p", 1024))
	var wg sync.WaitGroup
	errs := make(chan error, len(conns))
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := fmt.Sprintf("fleet/dev%d", i)
			if i >= pubs {
				for range perPub {
					if err := c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: topic, Payload: payload}); err != nil {
						errs <- err
						return
					}
				}
				return
			}
			acked := 0
			for id := 1; id <= perPub; id++ {
				if err := c.Send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: uint16(id), TopicName: topic, Payload: payload}); err != nil {
					errs <- err
					return
				}
				for id-acked >= window || id == perPub && acked < perPub {
					// Generous: a publisher waits at most a second for each
					// stalled subscriber before the broker gives up on it.
					pk, err := c.Recv(30 * time.Second)
					if err != nil {
						errs <- fmt.Errorf("%s: PUBACK %d of %d: %w", topic, acked+1, perPub, err)
						return
					}
					if pk.FixedHeader.Type == packets.Puback {
						acked++
					}
				}
			}
		}()
	}
	peak := base
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(100 * time.Millisecond):
		}
		peak = max(peak, vmRSS(t, pid)>>10)
	}
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	t.Logf("resident memory: baseline %d MiB, peak %d MiB with %d publishers", base, peak, pubs+qos0)
	// Measured 100-110 MiB: the stalled subscribers' queues (bounded by
	// max_queued_messages, about 13 MiB here), each connection's own
	// buffers and mochi's client state (some 30 KiB), and the collector's
	// headroom over a live heap of about 50 MiB. Before: 444 MiB.
	if peak-base > 200 {
		t.Errorf("peak resident memory %d MiB over the baseline of %d MiB, want at most 200", peak-base, base)
	}
}
