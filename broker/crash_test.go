package broker_test

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// ledger is what the test knows: what the broker acknowledged to the
// publishers and what the subscriber's application received.
type ledger struct {
	mu        sync.Mutex
	acked     map[string]bool // "1-17": QoS 1 message 17 got its PUBACK
	delivered map[string]int  // how often the application got it
	failures  []string
}

func (l *ledger) ack(key string) {
	l.mu.Lock()
	l.acked[key] = true
	l.mu.Unlock()
}

func (l *ledger) deliver(key string) {
	l.mu.Lock()
	l.delivered[key]++
	l.mu.Unlock()
}

func (l *ledger) fail(format string, a ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf(format, a...))
	l.mu.Unlock()
}

func (l *ledger) ackedCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.acked)
}

// missing lists the acknowledged messages the application never got.
func (l *ledger) missing() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for k := range l.acked {
		if l.delivered[k] == 0 {
			out = append(out, k)
		}
	}
	return out
}

// session reconnects a client after every broker kill, keeping its MQTT
// session state in memory as a real client does.
type session struct {
	addr string
	id   string
	stop chan struct{}
	// connected is called with each new connection, before reading.
	connected func(rc *rawClient, present bool, first bool) error
	// handle answers one packet from the broker.
	handle func(rc *rawClient, pk packets.Packet) error
	l      *ledger
	logf   func(format string, a ...any)
}

func (s *session) run(wg *sync.WaitGroup) {
	defer wg.Done()
	first := true
	for {
		select {
		case <-s.stop:
			return
		default:
		}
		rc, ca, err := dialRaw(s.addr, connectPacket(5, s.id, first, 600))
		if err != nil {
			// The broker is being restarted: try again shortly.
			select {
			case <-s.stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			continue
		}
		if !first && !ca.SessionPresent {
			s.l.fail("%s: session not present after a restart", s.id)
		}
		done := make(chan struct{})
		go func() {
			select {
			case <-s.stop:
				rc.Close()
			case <-done:
			}
		}()
		if err := s.connected(rc, ca.SessionPresent, first); err == nil {
			first = false
			for {
				pk, err := rc.read()
				if err != nil {
					s.logf("%s: read: %v", s.id, err)
					break
				}
				if err := s.handle(rc, pk); err != nil {
					s.logf("%s: %v", s.id, err)
					break
				}
			}
		}
		close(done)
		rc.Close()
	}
}

// subscriberState is an MQTT 5 receiver: QoS 2 by method B (deliver on
// PUBLISH, keep the packet id until PUBREL; a PUBLISH with a kept id is not
// delivered again). It dedupes nothing else.
type subscriberState struct {
	mu      sync.Mutex
	waitRel map[uint16]bool
	// on is the connection each kept id's PUBLISH came on: the broker may
	// send it again only on a later connection [MQTT-4.4.0-1].
	on map[uint16]*rawClient
	// trace is what the subscriber saw and did, for the report of a
	// failure: one line per QoS 2 packet.
	trace []traceEvent
}

type traceEvent struct {
	at   time.Time
	conn *rawClient
	what string
	pid  uint16
	key  string
}

// traceOf lists the events of the packet ids that carried key, in order,
// with the connection each came on.
func (st *subscriberState) traceOf(key string) []string {
	st.mu.Lock()
	defer st.mu.Unlock()
	pids := map[uint16]bool{}
	for _, e := range st.trace {
		if e.key == key {
			pids[e.pid] = true
		}
	}
	conns := map[*rawClient]int{}
	var out []string
	for _, e := range st.trace {
		if _, ok := conns[e.conn]; !ok {
			conns[e.conn] = len(conns) + 1
		}
		if pids[e.pid] {
			out = append(out, fmt.Sprintf("%s conn%d %s id %d %s", e.at.Format("15:04:05.000000"), conns[e.conn], e.what, e.pid, e.key))
		}
	}
	return out
}

func (st *subscriberState) handle(l *ledger) func(rc *rawClient, pk packets.Packet) error {
	return func(rc *rawClient, pk packets.Packet) error {
		switch pk.FixedHeader.Type {
		case packets.Publish:
			key := strings.TrimPrefix(string(pk.Payload), "m")
			switch pk.FixedHeader.Qos {
			case 1:
				l.deliver(key)
				return rc.send(ack(packets.Puback, pk.PacketID, 0))
			case 2:
				st.mu.Lock()
				seen := st.waitRel[pk.PacketID]
				st.waitRel[pk.PacketID] = true
				if seen && st.on[pk.PacketID] == rc {
					l.fail("QoS 2 message %s sent twice on one connection (packet id %d)", key, pk.PacketID)
				}
				st.on[pk.PacketID] = rc
				st.trace = append(st.trace, traceEvent{time.Now(), rc, fmt.Sprintf("PUBLISH dup=%v kept=%v", pk.FixedHeader.Dup, seen), pk.PacketID, key})
				st.mu.Unlock()
				if !seen {
					l.deliver(key)
				}
				return rc.send(ack(packets.Pubrec, pk.PacketID, 0))
			}
		case packets.Pubrel:
			st.mu.Lock()
			delete(st.waitRel, pk.PacketID)
			delete(st.on, pk.PacketID)
			st.trace = append(st.trace, traceEvent{time.Now(), rc, "PUBREL", pk.PacketID, ""})
			st.mu.Unlock()
			return rc.send(ack(packets.Pubcomp, pk.PacketID, 0))
		}
		return nil
	}
}

// publisherState streams numbered messages at one QoS with a window of
// unacknowledged ones, resending them (DUP, or PUBREL for QoS 2 past
// PUBREC) after every reconnect.
type publisherState struct {
	qos     byte
	mu      sync.Mutex
	cond    *sync.Cond
	next    int
	max     int
	waitAck map[uint16]int // PUBLISH sent, PUBACK/PUBREC awaited
	waitCmp map[uint16]int // PUBREL sent, PUBCOMP awaited
	order   []uint16       // ids in send order, for resends
	pid     uint16
	paused  bool
	gen     int // connection generation
}

func newPublisher(qos byte, max int) *publisherState {
	p := &publisherState{qos: qos, max: max, next: 1, waitAck: map[uint16]int{}, waitCmp: map[uint16]int{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

func (p *publisherState) key(n int) string { return strconv.Itoa(int(p.qos)) + "-" + strconv.Itoa(n) }

func (p *publisherState) payload(n int) []byte { return []byte("m" + p.key(n)) }

const window = 16

func (p *publisherState) connected(l *ledger, stop chan struct{}) func(rc *rawClient, present, first bool) error {
	return func(rc *rawClient, present, first bool) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		p.gen++
		p.cond.Broadcast()
		var resend []packets.Packet
		for _, id := range p.order {
			if n, ok := p.waitAck[id]; ok {
				pk := publishPacket("n/"+strconv.Itoa(int(p.qos)), p.payload(n), p.qos, id)
				pk.FixedHeader.Dup = true
				resend = append(resend, pk)
			} else if _, ok := p.waitCmp[id]; ok {
				resend = append(resend, ack(packets.Pubrel, id, 0))
			}
		}
		for _, pk := range resend {
			if err := rc.send(pk); err != nil {
				return err
			}
		}
		go p.stream(rc, p.gen, stop)
		return nil
	}
}

// stream sends new messages while the window has room, until a newer
// connection replaces rc. A message is sent under the lock, so that a
// reconnect's resends see every message sent before.
func (p *publisherState) stream(rc *rawClient, gen int, stop chan struct{}) {
	for {
		p.mu.Lock()
		for !p.paused && p.gen == gen && p.next <= p.max && len(p.waitAck)+len(p.waitCmp) >= window {
			p.cond.Wait()
		}
		if p.paused || p.gen != gen || p.next > p.max {
			p.mu.Unlock()
			return
		}
		n := p.next
		p.next++
		for {
			p.pid++
			if p.pid == 0 {
				p.pid = 1
			}
			_, a := p.waitAck[p.pid]
			_, c := p.waitCmp[p.pid]
			if !a && !c {
				break
			}
		}
		id := p.pid
		p.waitAck[id] = n
		p.order = append(p.order, id)
		err := rc.send(publishPacket("n/"+strconv.Itoa(int(p.qos)), p.payload(n), p.qos, id))
		p.mu.Unlock()
		if err != nil {
			return // resent after the reconnect
		}
		select {
		case <-stop:
			return
		default:
		}
	}
}

func (p *publisherState) handle(l *ledger) func(rc *rawClient, pk packets.Packet) error {
	return func(rc *rawClient, pk packets.Packet) error {
		p.mu.Lock()
		defer p.mu.Unlock()
		id := pk.PacketID
		switch pk.FixedHeader.Type {
		case packets.Puback, packets.Pubrec:
			n, ok := p.waitAck[id]
			if !ok {
				return nil
			}
			if pk.ReasonCode >= 0x80 {
				l.fail("q%d message %d: %s reason %#x", p.qos, n, packetName(pk.FixedHeader.Type), pk.ReasonCode)
				delete(p.waitAck, id)
				p.drop(id)
				return nil
			}
			l.ack(p.key(n))
			delete(p.waitAck, id)
			if pk.FixedHeader.Type == packets.Pubrec {
				p.waitCmp[id] = n
				p.mu.Unlock()
				err := rc.send(ack(packets.Pubrel, id, 0))
				p.mu.Lock()
				return err
			}
			p.drop(id)
		case packets.Pubcomp:
			if _, ok := p.waitCmp[id]; ok {
				delete(p.waitCmp, id)
				p.drop(id)
			}
		}
		return nil
	}
}

// drop forgets a finished id (p.mu held).
func (p *publisherState) drop(id uint16) {
	for i, v := range p.order {
		if v == id {
			p.order = append(p.order[:i], p.order[i+1:]...)
			break
		}
	}
	p.cond.Broadcast()
}

func (p *publisherState) idle() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.waitAck) == 0 && len(p.waitCmp) == 0
}

func (p *publisherState) pause() {
	p.mu.Lock()
	p.paused = true
	p.gen++
	p.cond.Broadcast()
	p.mu.Unlock()
}

func packetName(t byte) string {
	return map[byte]string{packets.Puback: "PUBACK", packets.Pubrec: "PUBREC", packets.Pubcomp: "PUBCOMP"}[t]
}

// TestDurableAcrossKills is the promise of persistence, with both durable
// persistence_sync modes: a QoS 1 and a QoS 2
// publisher stream numbered messages to a persistent-session subscriber,
// and the broker is killed with SIGKILL at random points and restarted.
// Every message the broker acknowledged (PUBACK, PUBREC) reaches the
// subscriber's application, and no QoS 2 message reaches it twice.
func TestDurableAcrossKills(t *testing.T) {
	for _, mode := range []string{"batch", "always"} {
		t.Run(mode, func(t *testing.T) { durableAcrossKills(t, mode) })
	}
}

func durableAcrossKills(t *testing.T, mode string) {
	dir := t.TempDir()
	p := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location data\npersistence_sync %s\n", p, mode)
	b := startBroker(t, dir, conf, p)
	addr := testutil.Addr(p)
	l := &ledger{acked: map[string]bool{}, delivered: map[string]int{}}
	stop := make(chan struct{})
	var wg sync.WaitGroup

	subscribed := make(chan struct{})
	sub := &subscriberState{waitRel: map[uint16]bool{}, on: map[uint16]*rawClient{}}
	var once sync.Once
	ss := &session{addr: addr, id: "durable-sub", stop: stop, l: l, handle: sub.handle(l), logf: t.Logf,
		connected: func(rc *rawClient, present, first bool) error {
			if first {
				pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 1,
					Filters: packets.Subscriptions{{Filter: "n/#", Qos: 2}}}
				if err := rc.send(pk); err != nil {
					return err
				}
				sa, err := rc.readTimeout(5 * time.Second)
				if err != nil || sa.FixedHeader.Type != packets.Suback || len(sa.ReasonCodes) != 1 || sa.ReasonCodes[0] != 2 {
					return fmt.Errorf("suback %v %v", sa.ReasonCodes, err)
				}
				once.Do(func() { close(subscribed) })
			}
			return nil
		}}
	wg.Add(1)
	go ss.run(&wg)
	select {
	case <-subscribed:
	case <-time.After(10 * time.Second):
		t.Fatal("subscriber did not subscribe")
	}

	const perQoS = 4000
	pubs := []*publisherState{newPublisher(1, perQoS), newPublisher(2, perQoS)}
	for i, pb := range pubs {
		ps := &session{addr: addr, id: "durable-pub" + strconv.Itoa(i+1), stop: stop, l: l, logf: t.Logf,
			connected: pb.connected(l, stop), handle: pb.handle(l)}
		wg.Add(1)
		go ps.run(&wg)
	}
	defer func() {
		close(stop)
		for _, pb := range pubs {
			pb.pause()
		}
		wg.Wait()
	}()

	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 12))
	const kills = 5
	var logs []string
	for k := 0; k < kills; k++ {
		// Kill after a random number of further acknowledgements.
		target := l.ackedCount() + 150 + rng.IntN(700)
		testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("%d acknowledged messages", target), func() bool {
			return l.ackedCount() >= target
		})
		b.Kill()
		t.Logf("%s killed the broker after %d acknowledgements", time.Now().Format("15:04:05.000000"), l.ackedCount())
		logs = append(logs, b.Stderr())
		b = restartBroker(t, b, p)
	}
	target := l.ackedCount() + 200
	testutil.WaitFor(t, 20*time.Second, fmt.Sprintf("%d acknowledged messages", target), func() bool {
		return l.ackedCount() >= target
	})
	for _, pb := range pubs {
		pb.pause()
	}
	// Wait until the publishers have finished their exchanges and every
	// acknowledged message arrived; what is still missing then is lost.
	deadline := time.Now().Add(15 * time.Second)
	for !(pubs[0].idle() && pubs[1].idle() && len(l.missing()) == 0) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if m := l.missing(); len(m) > 0 {
		slices.Sort(m)
		t.Errorf("%d acknowledged messages never delivered: %v", len(m), m)
	}
	for _, pb := range pubs {
		if !pb.idle() {
			pb.mu.Lock()
			t.Errorf("q%d publisher still waits for acknowledgements: %v, completions: %v", pb.qos, pb.waitAck, pb.waitCmp)
			pb.mu.Unlock()
		}
	}

	l.mu.Lock()
	defer l.mu.Unlock()
	var dups []string
	for k, n := range l.delivered {
		if strings.HasPrefix(k, "2-") && n > 1 {
			dups = append(dups, fmt.Sprintf("%s x%d", k, n))
		}
	}
	for _, f := range l.failures {
		t.Error(f)
	}
	if len(dups) > 0 {
		t.Errorf("%d QoS 2 messages delivered more than once: %v", len(dups), dups)
		l.mu.Unlock()
		for i, lg := range logs {
			t.Logf("broker log before kill %d:\n%s", i+1, lg)
		}
		for _, d := range dups {
			k := strings.Fields(d)[0]
			t.Logf("subscriber's trace of the packet ids of %s:\n%s", k, strings.Join(sub.traceOf(k), "\n"))
		}
		l.mu.Lock()
	}
	t.Logf("%d messages acknowledged across %d kills", len(l.acked), kills)
}
