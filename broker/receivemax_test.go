package broker_test

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// rmBroker is a broker under test in the Receive Maximum tests: its address
// and, for mqtls, a way to see where its goroutines are.
type rmBroker struct {
	addr string
	// mosquitto: the broker is Mosquitto.
	mosquitto bool
	// stacks asks the process for its goroutine dump (SIGQUIT) and
	// returns the goroutines that wait in mochi's in-flight set; nil for
	// mosquitto.
	stacks func() string
}

// rmBrokers runs fn against a real Mosquitto and against mqtls, both with
// conf on a plain listener.
func rmBrokers(t *testing.T, conf string, fn func(t *testing.T, b rmBroker)) {
	t.Run("mosquitto", func(t *testing.T) {
		p := testutil.FreePort(t)
		testutil.Mosquitto(t, p, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n%s", p, conf))
		fn(t, rmBroker{addr: testutil.Addr(p), mosquitto: true})
	})
	t.Run("mqtls", func(t *testing.T) {
		p := testutil.FreePort(t)
		b := startBroker(t, t.TempDir(), fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n%s", p, conf), p)
		fn(t, rmBroker{addr: testutil.Addr(p), stacks: func() string { return inflightStacks(t, b) }})
	})
}

// inflightStacks makes the broker dump its goroutines and returns those
// blocked in mochi's Inflight (a deadlock there is what these tests guard).
func inflightStacks(t *testing.T, b *brokerProc) string {
	if err := b.Signal(syscall.SIGQUIT); err != nil {
		return fmt.Sprintf("(no goroutine dump: %v)", err)
	}
	select {
	case <-b.Done():
	case <-time.After(5 * time.Second):
		return "(no goroutine dump within 5 s)"
	}
	var v []string
	for _, g := range strings.Split(b.Stderr(), "\n\n") {
		if strings.Contains(g, "Inflight)") && strings.Contains(g, "sync.") {
			if strings.Contains(g, "NextImmediate") {
				v = append([]string{g}, v...) // the reader that locks twice first
				continue
			}
			v = append(v, g)
		}
	}
	if len(v) == 0 {
		return "(no goroutine waits in the in-flight set)"
	}
	return fmt.Sprintf("%d goroutines wait in the in-flight set, the first:\n%s", len(v), v[0])
}

// rmSubscriber connects a clean v5 client id with session expiry expiry
// and Receive Maximum rm, subscribed to filter at qos; cp is its CONNECT.
func rmSubscriber(t *testing.T, addr, id string, expiry uint32, rm uint16, filter string, qos byte) (sub *rawClient, cp packets.Packet) {
	t.Helper()
	cp = connectPacket(5, id, true, expiry)
	cp.Properties.ReceiveMaximum = rm
	sub = mustDial(t, addr, cp)
	mustSubscribe(t, sub, filter, qos)
	return sub, cp
}

var rmPayload = regexp.MustCompile(`^p(\d+)-(\d+)$`)

// rmParse reads the publisher p and the message number n of a payload
// "p<p>-<n>"; ok is false for any other payload.
func rmParse(payload []byte) (p, n int, ok bool) {
	m := rmPayload.FindStringSubmatch(string(payload))
	if m == nil {
		return 0, 0, false
	}
	fmt.Sscan(m[1], &p)
	fmt.Sscan(m[2], &n)
	return p, n, true
}

// TestReceiveMaximumManyPublishers: a v5 subscriber with a small Receive
// Maximum that acknowledges each message as it comes, and 20 publishers
// that publish QoS 1 messages to it concurrently. Every publisher keeps
// getting its PUBACKs and the subscriber gets every message exactly once,
// each publisher's in the order published (MQTT 5 4.6), never more than
// its Receive Maximum unacknowledged (MQTT-3.3.4-9; a QoS 2 message until
// its PUBCOMP, MQTT 5 4.9, where Mosquitto frees the place at the PUBREC).
// mochi's send quota
// read-locked the subscriber's in-flight set twice (Inflight.NextImmediate)
// and deadlocked against a publisher adding to it: every publisher froze
// within seconds.
func TestReceiveMaximumManyPublishers(t *testing.T) {
	for _, c := range []struct {
		rm  uint16
		qos byte
	}{{1, 1}, {2, 1}, {2, 2}} {
		t.Run(fmt.Sprintf("receive-maximum-%d-qos-%d", c.rm, c.qos), func(t *testing.T) {
			rmBrokers(t, "", func(t *testing.T, b rmBroker) { manyPublishers(t, b, c.rm, c.qos) })
		})
	}
}

func manyPublishers(t *testing.T, b rmBroker, rm uint16, qos byte) {
	const (
		pubs = 20
		each = 25 // 500 in all: under max_queued_messages, nothing is dropped
	)
	sub, _ := rmSubscriber(t, b.addr, "rm-sub", 0, rm, "rm/#", qos)

	var (
		acked    [pubs]atomic.Int32 // PUBACKs (PUBRECs) each publisher got
		received atomic.Int32       // messages the subscriber got
		mu       sync.Mutex
		problems []string
	)
	fail := func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 10 {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	stop := make(chan struct{})
	conns := []*rawClient{sub}
	var wg sync.WaitGroup
	defer func() {
		close(stop)
		for _, c := range conns {
			c.Close() // ends the reads that wait
		}
		wg.Wait()
	}()

	// The subscriber acknowledges each message once it has read it.
	wg.Add(1)
	go func() {
		defer wg.Done()
		next := make([]int, pubs)
		unacked := map[uint16]bool{}
		completing := 0 // QoS 2: PUBRECs sent, PUBRELs to come
		for received.Load() < pubs*each || completing > 0 {
			pk, err := sub.readTimeout(30 * time.Second)
			if err != nil {
				select {
				case <-stop:
				default:
					fail("subscriber: %v", err)
				}
				return
			}
			if pk.FixedHeader.Type == packets.Pubrel && qos == 2 {
				// the second phase of a QoS 2 message: complete
				if err := sub.send(ack(packets.Pubcomp, pk.PacketID, 0)); err != nil {
					fail("subscriber: %v", err)
					return
				}
				delete(unacked, pk.PacketID)
				completing--
				continue
			}
			if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos != qos {
				fail("subscriber: packet type %d QoS %d, want PUBLISH QoS %d", pk.FixedHeader.Type, pk.FixedHeader.Qos, qos)
				return
			}
			unacked[pk.PacketID] = true
			if len(unacked) > int(rm) {
				fail("subscriber: %d messages unacknowledged, Receive Maximum %d", len(unacked), rm)
			}
			p, n, ok := rmParse(pk.Payload)
			switch {
			case !ok || p >= pubs:
				fail("subscriber: unexpected payload %q", pk.Payload)
			case n != next[p]:
				fail("subscriber: publisher %d's message %d came after its message %d", p, n, next[p]-1)
				next[p] = n + 1
			default:
				next[p]++
			}
			received.Add(1)
			if qos == 2 {
				if err := sub.send(ack(packets.Pubrec, pk.PacketID, 0)); err != nil {
					fail("subscriber: %v", err)
					return
				}
				completing++
				if b.mosquitto {
					// Mosquitto 2.0.11 frees the place at the PUBREC;
					// MQTT 5 (4.9) at the PUBCOMP, as mqtls does.
					delete(unacked, pk.PacketID)
				}
				continue // in flight until its PUBCOMP
			}
			if err := sub.send(ack(packets.Puback, pk.PacketID, 0)); err != nil {
				fail("subscriber: %v", err)
				return
			}
			delete(unacked, pk.PacketID)
		}
	}()

	// Each publisher sends its messages one after another, each once the
	// previous one is acknowledged.
	for p := range pubs {
		pub := mustDial(t, b.addr, connectPacket(5, fmt.Sprintf("rm-pub%d", p), true, 0))
		conns = append(conns, pub)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := range each {
				id := uint16(n + 1)
				if err := pub.send(publishPacket(fmt.Sprintf("rm/p%d", p), fmt.Appendf(nil, "p%d-%d", p, n), qos, id)); err != nil {
					fail("publisher %d: %v", p, err)
					return
				}
				want := []byte{packets.Puback}
				if qos == 2 {
					want = []byte{packets.Pubrec, packets.Pubcomp}
				}
				for _, typ := range want {
					pk, err := pub.readTimeout(30 * time.Second)
					if err != nil {
						select {
						case <-stop:
						default:
							fail("publisher %d, message %d: %v", p, n, err)
						}
						return
					}
					if pk.FixedHeader.Type != typ || pk.PacketID != id {
						fail("publisher %d: packet type %d id %d, want type %d id %d", p, pk.FixedHeader.Type, pk.PacketID, typ, id)
						return
					}
					if typ == packets.Pubrec {
						if err := pub.send(ack(packets.Pubrel, id, 0)); err != nil {
							fail("publisher %d: %v", p, err)
							return
						}
					}
				}
				acked[p].Add(1)
			}
		}()
	}

	// Progress is checked by counts: every 10 s each count that is not
	// complete yet must have moved.
	count := func() (int, []int) {
		var per []int
		total := 0
		for p := range pubs {
			n := int(acked[p].Load())
			per = append(per, n)
			total += n
		}
		return total + int(received.Load()), per
	}
	last, _ := count()
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		bad := len(problems) > 0
		mu.Unlock()
		now, per := count()
		if now == 2*pubs*each || bad {
			break
		}
		if now != last {
			last, deadline = now, time.Now().Add(10*time.Second)
		}
		if time.Now().After(deadline) {
			msg := fmt.Sprintf("no progress for 10 s: PUBACKs per publisher %v (of %d each), %d of %d messages received",
				per, each, received.Load(), pubs*each)
			if b.stacks != nil {
				msg += "\n" + b.stacks()
			}
			t.Fatal(msg)
		}
		time.Sleep(10 * time.Millisecond) // polling counts, not synchronising
	}
	mu.Lock()
	defer mu.Unlock()
	for _, p := range problems {
		t.Error(p)
	}
}

// TestReceiveMaximumHeldInOrder: the messages held behind a subscriber's
// Receive Maximum 1 go out one per PUBACK in the order they came, from two
// publishers in turn, none while another is unacknowledged.
func TestReceiveMaximumHeldInOrder(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		sub, _ := rmSubscriber(t, b.addr, "held-sub", 0, 1, "held/#", 1)
		pubs := []*rawClient{
			mustDial(t, b.addr, connectPacket(5, "held-a", true, 0)),
			mustDial(t, b.addr, connectPacket(4, "held-b", true, 0)),
		}
		var want []string
		for i := range 20 {
			p := fmt.Sprintf("%c%d", 'a'+i%2, i)
			want = append(want, p)
			pub := pubs[i%2]
			mustSend(t, pub, publishPacket("held/"+p[:1], []byte(p), 1, uint16(i+1)))
			mustRead(t, pub, packets.Puback)
		}
		var got []string
		for range want {
			pk := mustRead(t, sub, packets.Publish)
			got = append(got, string(pk.Payload))
			// The broker answers in order: nothing more may come before
			// the PINGRESP while this one is unacknowledged.
			syncPing(t, sub)
			mustSend(t, sub, ack(packets.Puback, pk.PacketID, 0))
		}
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("delivered %q, want %q", got, want)
		}
	})
}

// TestReceiveMaximumHeldResumed: messages held behind a Receive Maximum
// when the subscriber goes stay in its session: the next connection gets
// each of them once, in order, within its Receive Maximum too (mochi
// resent the whole session at once); only the one it had is a duplicate.
func TestReceiveMaximumHeldResumed(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		sub, cp := rmSubscriber(t, b.addr, "resume-sub", 300, 1, "resume/#", 1)
		pub := mustDial(t, b.addr, connectPacket(5, "resume-pub", true, 0))
		for i := 1; i <= 5; i++ {
			mustSend(t, pub, publishPacket("resume/t", []byte(fmt.Sprint(i)), 1, uint16(i)))
			mustRead(t, pub, packets.Puback)
		}
		if pk := mustRead(t, sub, packets.Publish); string(pk.Payload) != "1" {
			t.Fatalf("first delivery %q, want 1", pk.Payload)
		}
		sub.Close() // message 1 unacknowledged, 2 to 5 held
		cp.Connect.Clean = false
		again, ack, err := dialRaw(b.addr, cp)
		if err != nil {
			t.Fatalf("reconnect: %v", err)
		}
		defer again.Close()
		if !ack.SessionPresent {
			t.Fatal("reconnect: session not present")
		}
		var got []string
		for len(got) < 5 {
			pk := mustRead(t, again, packets.Publish)
			got = append(got, string(pk.Payload))
			if dup := len(got) == 1; pk.FixedHeader.Dup != dup {
				t.Errorf("message %s resent with DUP %v, want %v", pk.Payload, pk.FixedHeader.Dup, dup)
			}
			syncPing(t, again) // within the window: nothing more until the PUBACK
			mustSend(t, again, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
		}
		if want := []string{"1", "2", "3", "4", "5"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("resumed session delivered %q, want %q", got, want)
		}
		syncPing(t, again) // and nothing more
	})
}

// TestReceiveMaximumTopicAliases: a subscriber that allows topic aliases
// can resolve every message it gets, although messages are held behind its
// Receive Maximum while QoS 0 ones go out at once, and messages resent
// to its next connection: a message that names a topic by an alias the
// client never learnt (it was set by a message still held, dropped, or
// sent on an earlier connection) is a protocol error for the client.
func TestReceiveMaximumTopicAliases(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		cp := connectPacket(5, "alias-sub", true, 300)
		cp.Properties.ReceiveMaximum = 1
		cp.Properties.TopicAliasMaximum = 10
		sub := mustDial(t, b.addr, cp)
		mustSubscribe(t, sub, "alias/#", 1)
		pub := mustDial(t, b.addr, connectPacket(5, "alias-pub", true, 0))
		send := func(topic string, qos byte, payload string, id uint16) {
			mustSend(t, pub, publishPacket(topic, []byte(payload), qos, id))
			if qos > 0 {
				mustRead(t, pub, packets.Puback)
			}
		}
		send("alias/x", 1, "x1", 1) // in flight
		send("alias/y", 1, "y1", 2) // held
		send("alias/y", 0, "y0", 0) // at once
		send("alias/y", 1, "y2", 3) // held
		aliases := map[uint16]string{}
		resolve := func(rc *rawClient) (string, string, packets.Packet) {
			pk := mustRead(t, rc, packets.Publish)
			topic := pk.TopicName
			if a := pk.Properties.TopicAlias; a > 0 {
				if topic != "" {
					aliases[a] = topic
				} else if topic = aliases[a]; topic == "" {
					t.Errorf("message %q names topic alias %d, which this connection never set", pk.Payload, a)
				}
			}
			return topic, string(pk.Payload), pk
		}
		want := map[string]string{"x1": "alias/x", "y1": "alias/y", "y0": "alias/y", "y2": "alias/y"}
		got := 0
		var last packets.Packet
		for got < 3 {
			topic, payload, pk := resolve(sub)
			if topic != want[payload] {
				t.Errorf("message %q on %q, want %q", payload, topic, want[payload])
			}
			got++
			if pk.FixedHeader.Qos > 0 && payload != "y1" {
				mustSend(t, sub, ack(packets.Puback, pk.PacketID, 0))
			}
			if payload == "y1" {
				last = pk // left unacknowledged: resent below
			}
		}
		if last.PacketID == 0 {
			t.Fatal("y1 not delivered")
		}
		// The next connection learns no alias from the last one.
		sub.Close()
		cp.Connect.Clean = false
		again, _, err := dialRaw(b.addr, cp)
		if err != nil {
			t.Fatalf("reconnect: %v", err)
		}
		defer again.Close()
		clear(aliases)
		for seen := map[string]bool{}; !seen["y1"] || !seen["y2"]; {
			topic, payload, pk := resolve(again)
			if topic != want[payload] {
				t.Errorf("after reconnect: message %q on %q, want %q", payload, topic, want[payload])
			}
			seen[payload] = true
			mustSend(t, again, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
		}
	})
}

// TestReceiveMaximumReconnectUnderLoad: publishers keep publishing while a
// subscriber with Receive Maximum 2 drops its connection twice and resumes
// its session: it gets every message, each publisher's in order (a message
// may come again after a reconnect before the ones after it). mochi resent
// the session while the new connection's write loop already wrote newer
// messages, which overtook the resent ones.
func TestReceiveMaximumReconnectUnderLoad(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		const (
			pubs = 5
			each = 40
		)
		sub, cp := rmSubscriber(t, b.addr, "load-sub", 300, 2, "load/#", 1)
		cp.Connect.Clean = false
		var wg sync.WaitGroup
		errs := make(chan error, pubs)
		for p := range pubs {
			pub := mustDial(t, b.addr, connectPacket(5, fmt.Sprintf("load-pub%d", p), true, 0))
			wg.Add(1)
			go func() {
				defer wg.Done()
				for n := range each {
					if err := pub.send(publishPacket(fmt.Sprintf("load/p%d", p), fmt.Appendf(nil, "p%d-%d", p, n), 1, uint16(n+1))); err != nil {
						errs <- err
						return
					}
					if pk, err := pub.readTimeout(10 * time.Second); err != nil || pk.FixedHeader.Type != packets.Puback {
						errs <- fmt.Errorf("publisher %d message %d: %v (type %d)", p, n, err, pk.FixedHeader.Type)
						return
					}
				}
			}()
		}
		next := make([]int, pubs) // the next new message of each publisher
		got := 0
		for i := 0; got < pubs*each; i++ {
			if i == 60 || i == 130 {
				sub.Close() // the messages in flight are resent to the next connection
				again, ack, err := dialRaw(b.addr, cp)
				if err != nil || !ack.SessionPresent {
					t.Fatalf("reconnect: %v (session present %v)", err, ack.SessionPresent)
				}
				sub = again
				defer again.Close()
			}
			pk, err := sub.readTimeout(10 * time.Second)
			if err != nil {
				t.Fatalf("after %d of %d messages: %v", got, pubs*each, err)
			}
			if pk.FixedHeader.Type != packets.Publish {
				t.Fatalf("packet type %d, want PUBLISH", pk.FixedHeader.Type)
			}
			p, n, ok := rmParse(pk.Payload)
			switch {
			case !ok || p >= pubs:
				t.Fatalf("unexpected payload %q", pk.Payload)
			case n == next[p]:
				next[p]++
				got++
			case n < next[p]:
				// resent after a reconnect (its DUP flag is not checked:
				// see the note in window.go)
			default:
				t.Errorf("publisher %d's message %d came when %d was next", p, n, next[p])
				next[p] = n + 1
				got++
			}
			mustSend(t, sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	})
}
