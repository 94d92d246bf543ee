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
		fn(t, rmBroker{addr: testutil.Addr(p)})
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

var rmPayload = regexp.MustCompile(`^p(\d+)-(\d+)$`)

// TestReceiveMaximumManyPublishers: a v5 subscriber with a small Receive
// Maximum that acknowledges each message as it comes, and 20 publishers
// that publish QoS 1 messages to it concurrently. Every publisher keeps
// getting its PUBACKs and the subscriber gets every message exactly once,
// each publisher's in the order published (MQTT 5 4.6), never more than
// its Receive Maximum unacknowledged (MQTT-3.3.4-9). mochi's send quota
// read-locked the subscriber's in-flight set twice (Inflight.NextImmediate)
// and deadlocked against a publisher adding to it: every publisher froze
// within seconds.
func TestReceiveMaximumManyPublishers(t *testing.T) {
	for _, rm := range []uint16{1, 2} {
		t.Run(fmt.Sprintf("receive-maximum-%d", rm), func(t *testing.T) {
			rmBrokers(t, "", func(t *testing.T, b rmBroker) { manyPublishers(t, b, rm) })
		})
	}
}

func manyPublishers(t *testing.T, b rmBroker, rm uint16) {
	const (
		pubs = 20
		each = 25 // 500 in all: under max_queued_messages, nothing is dropped
	)
	cp := connectPacket(5, "rm-sub", true, 0)
	cp.Properties.ReceiveMaximum = rm
	sub := mustDial(t, b.addr, cp)
	mustSubscribe(t, sub, "rm/#", 1)

	var (
		acked    [pubs]atomic.Int32 // PUBACKs each publisher got
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
		for received.Load() < pubs*each {
			pk, err := sub.readTimeout(30 * time.Second)
			if err != nil {
				select {
				case <-stop:
				default:
					fail("subscriber: %v", err)
				}
				return
			}
			if pk.FixedHeader.Type != packets.Publish {
				fail("subscriber: packet type %d, want PUBLISH", pk.FixedHeader.Type)
				return
			}
			unacked[pk.PacketID] = true
			if len(unacked) > int(rm) {
				fail("subscriber: %d messages unacknowledged, Receive Maximum %d", len(unacked), rm)
			}
			m := rmPayload.FindStringSubmatch(string(pk.Payload))
			var p, n int
			if m != nil {
				fmt.Sscan(m[1], &p)
				fmt.Sscan(m[2], &n)
			}
			switch {
			case m == nil || p >= pubs:
				fail("subscriber: unexpected payload %q", pk.Payload)
			case n != next[p]:
				fail("subscriber: publisher %d's message %d came after its message %d", p, n, next[p]-1)
				next[p] = n + 1
			default:
				next[p]++
			}
			received.Add(1)
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
				if err := pub.send(publishPacket(fmt.Sprintf("rm/p%d", p), fmt.Appendf(nil, "p%d-%d", p, n), 1, uint16(n+1))); err != nil {
					fail("publisher %d: %v", p, err)
					return
				}
				pk, err := pub.readTimeout(30 * time.Second)
				if err != nil {
					select {
					case <-stop:
					default:
						fail("publisher %d, message %d: %v", p, n, err)
					}
					return
				}
				if pk.FixedHeader.Type != packets.Puback || pk.PacketID != uint16(n+1) {
					fail("publisher %d: packet type %d id %d, want PUBACK %d", p, pk.FixedHeader.Type, pk.PacketID, n+1)
					return
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
		cp := connectPacket(5, "held-sub", true, 0)
		cp.Properties.ReceiveMaximum = 1
		sub := mustDial(t, b.addr, cp)
		mustSubscribe(t, sub, "held/#", 1)
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
// each of them once, in order.
func TestReceiveMaximumHeldResumed(t *testing.T) {
	rmBrokers(t, "", func(t *testing.T, b rmBroker) {
		cp := connectPacket(5, "resume-sub", true, 300)
		cp.Properties.ReceiveMaximum = 1
		sub := mustDial(t, b.addr, cp)
		mustSubscribe(t, sub, "resume/#", 1)
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
			mustSend(t, again, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
		}
		if want := []string{"1", "2", "3", "4", "5"}; fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("resumed session delivered %q, want %q", got, want)
		}
		syncPing(t, again) // and nothing more
	})
}
