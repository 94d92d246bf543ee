package client

// The debug lines are libmosquitto's (lib/send_*.c, lib/handle_*.c in
// Mosquitto 2.0): the same words, the same numbers, in the same order, so
// that `mqtls sub -d` and `mosquitto_sub -d` print the same transcript.

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"sync"
)

// tracer turns the packets seen on the wire into debug lines, and orders
// message deliveries among them as libmosquitto does.
type tracer struct {
	v          byte
	seq        *sequencer
	subscribed bool // also print mosquitto_sub's "Subscribed (mid: 1): 0"
	// stopAtSuback halts at the first SUBACK: nothing received after it is
	// reported or delivered (mosquitto_sub -E).
	stopAtSuback bool
	// subscribeFirst holds what comes after the CONNACK until a SUBSCRIBE
	// is sent (see Options.subscribeFirst).
	subscribeFirst bool

	mu      sync.Mutex
	id      string
	lastMid uint16
	// libmosquitto answers a PUBLISH or PUBREL before it reads the next
	// packet; the Go libraries read on while another goroutine answers, and
	// may answer a later packet first. So that the lines come in
	// libmosquitto's order, packets received while an answer is due are
	// held until it is sent, and answers sent before their packet's turn
	// wait for it in early.
	due   *due
	held  []pkt
	early []pkt
}

// due is the answer the client owes: PUBACK, PUBREC or PUBCOMP for mid,
// or the SUBSCRIBE of subscribeFirst (any mid).
type due struct {
	kind   byte
	mid    uint16
	anyMid bool
}

func newTracer(v byte, out func(string), deliver func(Message), h *halt) *tracer {
	return &tracer{v: v, seq: newSequencer(out, deliver, h)}
}

func (t *tracer) name() string {
	if t.id == "" {
		return "(null)"
	}
	return t.id
}

// sent logs an outgoing packet.
func (t *tracer) sent(p pkt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.due != nil && t.due.kind == p.kind && (t.due.mid == p.mid || t.due.anyMid) {
		t.logSent(p)
		t.due = nil
		t.release()
		return
	}
	if t.answersHeld(p) {
		t.early = append(t.early, p)
		return
	}
	t.logSent(p)
}

// answersHeld reports whether p answers a packet still held.
func (t *tracer) answersHeld(p pkt) bool {
	for _, h := range t.held {
		if d := owed(h); d != nil && d.kind == p.kind && d.mid == p.mid {
			return true
		}
	}
	return false
}

// owed is the answer libmosquitto sends on receiving p, if any.
func owed(p pkt) *due {
	switch {
	case p.kind == tPUBLISH && p.qos == 1:
		return &due{kind: tPUBACK, mid: p.mid}
	case p.kind == tPUBLISH && p.qos == 2:
		return &due{kind: tPUBREC, mid: p.mid}
	case p.kind == tPUBREL:
		return &due{kind: tPUBCOMP, mid: p.mid}
	}
	return nil
}

// release logs held packets, each followed by its answer if it was sent
// early, until one of them owes an answer not sent yet.
func (t *tracer) release() {
	for len(t.held) > 0 && t.due == nil {
		p := t.held[0]
		t.held = t.held[1:]
		t.logReceived(p)
		t.answerEarly()
	}
}

// answerEarly logs the answer due if it was sent early.
func (t *tracer) answerEarly() {
	if t.due == nil {
		return
	}
	for i, a := range t.early {
		if a.kind == t.due.kind && a.mid == t.due.mid {
			t.early = append(t.early[:i], t.early[i+1:]...)
			t.logSent(a)
			t.due = nil
			return
		}
	}
}

// flush logs whatever is held; the connection is closing.
func (t *tracer) flush() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for len(t.held) > 0 {
		t.due = nil
		p := t.held[0]
		t.held = t.held[1:]
		t.logReceived(p)
		t.answerEarly()
	}
	for _, a := range t.early {
		t.logSent(a)
	}
	t.early = nil
}

func (t *tracer) logSent(p pkt) {
	c := t.name()
	switch p.kind {
	case tCONNECT:
		t.id = p.id
		t.seq.line(fmt.Sprintf("Client %s sending CONNECT", t.name()))
	case tPUBLISH:
		mid := p.mid
		if p.qos == 0 {
			// libmosquitto numbers every publish, QoS 0 ones too.
			mid = t.lastMid + 1
		}
		t.lastMid = mid
		t.seq.line(fmt.Sprintf("Client %s sending PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			c, b2i(p.dup), p.qos, b2i(p.retain), mid, p.topic, p.plen))
	case tPUBACK:
		t.seq.lineIn(fmt.Sprintf("Client %s sending PUBACK (m%d, rc%d)", c, p.mid, p.code))
		t.seq.deliver(p.mid)
	case tPUBREC:
		t.seq.lineIn(fmt.Sprintf("Client %s sending PUBREC (m%d, rc%d)", c, p.mid, p.code))
	case tPUBREL:
		t.seq.line(fmt.Sprintf("Client %s sending PUBREL (m%d)", c, p.mid))
	case tPUBCOMP:
		t.seq.lineIn(fmt.Sprintf("Client %s sending PUBCOMP (m%d)", c, p.mid))
		t.seq.deliver(p.mid)
	case tSUBSCRIBE:
		t.lastMid = p.mid
		for _, s := range p.subs {
			t.seq.line(fmt.Sprintf("Client %s sending SUBSCRIBE (Mid: %d, Topic: %s, QoS: %d, Options: 0x%02x)",
				c, p.mid, s.Filter, s.QoS, s.options()))
		}
	case tUNSUBSCRIBE:
		t.lastMid = p.mid
		for _, f := range p.unsubs {
			t.seq.line(fmt.Sprintf("Client %s sending UNSUBSCRIBE (Mid: %d, Topic: %s)", c, p.mid, f))
		}
	case tPINGREQ:
		t.seq.line(fmt.Sprintf("Client %s sending PINGREQ", c))
	case tDISCONNECT:
		t.seq.line(fmt.Sprintf("Client %s sending DISCONNECT", c))
	case tAUTH:
		t.seq.line(fmt.Sprintf("Client %s sending AUTH", c))
	}
}

// received logs an incoming packet, or holds it while an answer is due.
func (t *tracer) received(p pkt) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.due != nil || len(t.held) > 0 {
		t.held = append(t.held, p)
		return
	}
	t.logReceived(p)
}

func (t *tracer) logReceived(p pkt) {
	t.due = owed(p)
	switch p.kind {
	case tCONNACK:
		if p.id != "" {
			t.id = p.id
		}
		t.seq.lineIn(fmt.Sprintf("Client %s received CONNACK (%d)", t.name(), p.code))
		if t.subscribeFirst && p.code == 0 {
			t.due = &due{kind: tSUBSCRIBE, anyMid: true}
		}
	case tPUBLISH:
		t.seq.lineIn(fmt.Sprintf("Client %s received PUBLISH (d%d, q%d, r%d, m%d, '%s', ... (%d bytes))",
			t.name(), b2i(p.dup), p.qos, b2i(p.retain), p.mid, p.topic, p.plen))
		if p.qos == 0 {
			t.seq.deliver(0)
		}
	case tPUBACK:
		t.seq.lineIn(fmt.Sprintf("Client %s received PUBACK (Mid: %d, RC:%d)", t.name(), p.mid, p.code))
	case tPUBREC:
		t.seq.lineIn(fmt.Sprintf("Client %s received PUBREC (Mid: %d)", t.name(), p.mid))
	case tPUBREL:
		t.seq.lineIn(fmt.Sprintf("Client %s received PUBREL (Mid: %d)", t.name(), p.mid))
	case tPUBCOMP:
		t.seq.lineIn(fmt.Sprintf("Client %s received PUBCOMP (Mid: %d, RC:%d)", t.name(), p.mid, p.code))
	case tSUBACK:
		t.seq.lineIn(fmt.Sprintf("Client %s received SUBACK", t.name()))
		if t.subscribed {
			codes := make([]string, len(p.codes))
			for i, c := range p.codes {
				codes[i] = strconv.Itoa(int(c))
			}
			t.seq.lineIn(fmt.Sprintf("Subscribed (mid: %d): %s", p.mid, strings.Join(codes, ", ")))
		}
		if t.stopAtSuback {
			t.seq.haltHere()
		}
	case tUNSUBACK:
		t.seq.lineIn(fmt.Sprintf("Client %s received UNSUBACK", t.name()))
	case tPINGRESP:
		t.seq.lineIn(fmt.Sprintf("Client %s received PINGRESP", t.name()))
	case tDISCONNECT:
		// libmosquitto logs it without the client id
		t.seq.lineIn(fmt.Sprintf("Received DISCONNECT (%d)", p.code))
	case tAUTH:
		t.seq.lineIn(fmt.Sprintf("Client %s received AUTH", t.name()))
	}
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// tap is a net.Conn that reports every whole packet written or read to a
// tracer. Writes are reported before they go out, reads after they came in.
type tap struct {
	net.Conn
	tr   *tracer
	wmu  sync.Mutex
	wbuf []byte
	rbuf []byte // used by the single reader goroutine only
}

func (c *tap) Write(b []byte) (int, error) {
	c.wmu.Lock()
	c.wbuf = c.feed(c.wbuf, b, c.tr.sent)
	c.wmu.Unlock()
	return c.Conn.Write(b)
}

func (c *tap) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.rbuf = c.feed(c.rbuf, b[:n], c.tr.received)
	}
	return n, err
}

// feed appends b to buf, reports each complete packet and returns the rest.
func (c *tap) feed(buf, b []byte, report func(pkt)) []byte {
	buf = append(buf, b...)
	for len(buf) > 0 {
		p, n, err := decode(c.tr.v, buf)
		if err == errShort {
			break
		}
		if err != nil || n == 0 {
			// Not something we can decode: the library will say so; stop tracing this stream.
			return buf[:0]
		}
		report(p)
		buf = buf[n:]
	}
	if len(buf) == 0 {
		return buf[:0]
	}
	return append([]byte(nil), buf...)
}
