package broker_test

import (
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestSessionDurableBeforeConnack: what a CONNACK tells a client about its
// session is on disk before the CONNACK leaves. The broker is killed with
// SIGKILL as soon as the client has read its CONNACK, and restarted:
//   - a new persistent session (clean start 0, expiry 600) is there after
//     the restart (session present 1);
//   - a clean start over an old session leaves the new, empty session, not
//     the old one back: a QoS 2 packet id the old session left awaiting
//     PUBREL does not make the new session's first QoS 2 message with that
//     id look like a retry (acknowledged and never delivered).
//
// Each case runs a few rounds: when the CONNACK runs ahead of the store, a
// kill lands before its write only some of the time. A client keeps the
// store busy meanwhile (each write then waits for the sync before it), as
// on a broker in use.
func TestSessionDurableBeforeConnack(t *testing.T) {
	dir := t.TempDir()
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location data\n")
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go storeLoad(&wg, addr, stop)
	defer func() { close(stop); wg.Wait() }()
	const rounds = 4
	for i := range rounds {
		id := fmt.Sprintf("cs-new-%d", i)
		rc, ca, err := dialRaw(addr, connectPacket(5, id, false, 600))
		if err != nil {
			t.Fatalf("connect %s: %v", id, err)
		}
		b.Kill()
		rc.Close()
		if ca.SessionPresent {
			t.Fatalf("%s: session present on its first connect", id)
		}
		b = restartBroker(t, b, p)
		rc, ca, err = dialRaw(addr, connectPacket(5, id, false, 600))
		if err != nil {
			t.Fatalf("reconnect %s: %v", id, err)
		}
		rc.Close()
		if !ca.SessionPresent {
			t.Errorf("round %d: the new session of %s was lost by a kill after its CONNACK (session present 0 after the restart)", i, id)
		}
	}

	for i := range rounds {
		id := fmt.Sprintf("cs-old-%d", i)
		topic := fmt.Sprintf("cs/q2/%d", i)
		rc := mustDial(t, addr, connectPacket(5, id, false, 600))
		mustSend(t, rc, publishPacket(topic, []byte("old"), 2, 7))
		mustRead(t, rc, packets.Pubrec) // id 7 now awaits PUBREL, durably
		rc.Close()
		rc, ca, err := dialRaw(addr, connectPacket(5, id, true, 600))
		if err != nil {
			t.Fatalf("clean connect %s: %v", id, err)
		}
		b.Kill()
		rc.Close()
		if ca.SessionPresent {
			t.Fatalf("%s: session present on a clean start", id)
		}
		b = restartBroker(t, b, p)

		sub := mustDial(t, addr, connectPacket(5, "cs-sub", true, 0))
		mustSubscribe(t, sub, "cs/#", 2)
		pub := mustDial(t, addr, connectPacket(5, id, false, 600))
		mustSend(t, pub, publishPacket(topic, []byte("new"), 2, 7))
		mustRead(t, pub, packets.Pubrec)
		mustSend(t, pub, ack(packets.Pubrel, 7, 0))
		mustRead(t, pub, packets.Pubcomp)
		// In order from one publisher: the marker comes after it.
		mustSend(t, pub, publishPacket("cs/marker", []byte("marker"), 1, 8))
		mustRead(t, pub, packets.Puback)
		m := mustRead(t, sub, packets.Publish)
		if m.TopicName != topic || string(m.Payload) != "new" {
			t.Errorf("round %d: the clean start of %s came undone by a kill right after its CONNACK: its QoS 2 message with the old session's packet id was acknowledged and not delivered (got %s %q first)", i, id, m.TopicName, m.Payload)
		}
		sub.Close()
		pub.Close()
	}
}

// storeLoad publishes retained QoS 1 messages, eight at a time, until stop
// (a durable write each), reconnecting after every kill of the broker.
func storeLoad(wg *sync.WaitGroup, addr string, stop chan struct{}) {
	defer wg.Done()
	for n := 0; ; {
		select {
		case <-stop:
			return
		default:
		}
		rc, _, err := dialRaw(addr, connectPacket(5, "cs-load", true, 0))
		if err != nil {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		for err == nil {
			select {
			case <-stop:
				rc.Close()
				return
			default:
			}
			for i := range 8 {
				pk := publishPacket("load/"+strconv.Itoa(n%64), []byte(strconv.Itoa(n)), 1, uint16(i+1))
				pk.FixedHeader.Retain = true
				n++
				if err = rc.send(pk); err != nil {
					break
				}
			}
			for range 8 {
				if err != nil {
					break
				}
				_, err = rc.readTimeout(5 * time.Second)
			}
		}
		rc.Close()
	}
}
