package client

import (
	"bytes"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"

	p3 "github.com/eclipse/paho.mqtt.golang/packets"
)

// collect is a tracer whose lines and deliveries land in one list.
func collect(h *halt, onMsg func(Message)) (*tracer, func() []string) {
	var mu sync.Mutex
	var lines []string
	add := func(s string) {
		mu.Lock()
		lines = append(lines, s)
		mu.Unlock()
	}
	tr := newTracer(V5, add, func(m Message) {
		add("message " + string(m.Payload))
		if onMsg != nil {
			onMsg(m)
		}
	}, h)
	tr.id = "c"
	return tr, func() []string {
		tr.flush()
		tr.seq.close()
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(lines)
	}
}

// TestTracerAnswersInOrder: the library answers the PUBREL of m2 before
// the PUBLISH m3 that came first; libmosquitto answers in arrival order,
// and so do the lines.
func TestTracerAnswersInOrder(t *testing.T) {
	tr, done := collect(&halt{}, nil)
	tr.received(pkt{kind: tPUBLISH, qos: 2, mid: 2, topic: "a", plen: 3})
	tr.seq.arrive(Message{QoS: 2, Mid: 2, Payload: []byte("two")})
	tr.sent(pkt{kind: tPUBREC, mid: 2})
	tr.received(pkt{kind: tPUBLISH, qos: 2, mid: 3, topic: "a", plen: 5})
	tr.seq.arrive(Message{QoS: 2, Mid: 3, Payload: []byte("three")})
	tr.received(pkt{kind: tPUBREL, mid: 2})
	tr.sent(pkt{kind: tPUBCOMP, mid: 2}) // early: PUBLISH m3 is not answered yet
	tr.sent(pkt{kind: tPUBREC, mid: 3})
	tr.received(pkt{kind: tPUBREL, mid: 3})
	tr.sent(pkt{kind: tPUBCOMP, mid: 3})
	want := []string{
		"Client c received PUBLISH (d0, q2, r0, m2, 'a', ... (3 bytes))",
		"Client c sending PUBREC (m2, rc0)",
		"Client c received PUBLISH (d0, q2, r0, m3, 'a', ... (5 bytes))",
		"Client c sending PUBREC (m3, rc0)",
		"Client c received PUBREL (Mid: 2)",
		"Client c sending PUBCOMP (m2)",
		"message two",
		"Client c received PUBREL (Mid: 3)",
		"Client c sending PUBCOMP (m3)",
		"message three",
	}
	if got := done(); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestTracerHalt: a handler that halts (mosquitto_sub's -C) ends the
// received lines and deliveries right there; what is sent still shows.
func TestTracerHalt(t *testing.T) {
	h := &halt{}
	tr, done := collect(h, func(Message) { h.stop() })
	for i, p := range []string{"one", "two", "three"} {
		tr.received(pkt{kind: tPUBLISH, topic: "a", plen: len(p)})
		tr.seq.arrive(Message{Payload: []byte(p)})
		if i == 1 {
			tr.received(pkt{kind: tPUBLISH, qos: 1, mid: 1, topic: "a", plen: 1})
			tr.sent(pkt{kind: tPUBACK, mid: 1})
		}
	}
	tr.sent(pkt{kind: tDISCONNECT})
	want := []string{
		"Client c received PUBLISH (d0, q0, r0, m0, 'a', ... (3 bytes))",
		"message one",
		"Client c sending DISCONNECT",
	}
	if got := done(); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestOrderConn: the filters of a SUBSCRIBE go out in the order given, and
// the SUBACK's codes come back in the order the library sent them in.
func TestOrderConn(t *testing.T) {
	ours, broker := net.Pipe()
	defer broker.Close()
	oc := newOrderConn(ours)
	defer oc.Close()
	oc.expect([]string{"a/#", "b", "c/+"})

	sub := p3.NewControlPacket(p3.Subscribe).(*p3.SubscribePacket)
	sub.MessageID = 7
	sub.Topics = []string{"c/+", "a/#", "b"} // a map's order
	sub.Qoss = []byte{2, 0, 1}
	var buf bytes.Buffer
	if err := sub.Write(&buf); err != nil {
		t.Fatal(err)
	}
	go oc.Write(buf.Bytes())
	got, err := p3.ReadPacket(broker)
	if err != nil {
		t.Fatal(err)
	}
	gs := got.(*p3.SubscribePacket)
	if !slices.Equal(gs.Topics, []string{"a/#", "b", "c/+"}) || !slices.Equal(gs.Qoss, []byte{0, 1, 2}) || gs.MessageID != 7 {
		t.Fatalf("sent %v %v mid %d", gs.Topics, gs.Qoss, gs.MessageID)
	}

	ack := p3.NewControlPacket(p3.Suback).(*p3.SubackPacket)
	ack.MessageID = 7
	ack.ReturnCodes = []byte{0, 0x80, 2} // a/#, b, c/+
	go ack.Write(broker)
	back, err := p3.ReadPacket(oc)
	if err != nil {
		t.Fatal(err)
	}
	if codes := back.(*p3.SubackPacket).ReturnCodes; !slices.Equal(codes, []byte{2, 0, 0x80}) {
		t.Errorf("codes in the library's order: %v, want [2 0 128]", codes)
	}
}

// TestTracerSubscribeFirst: a kept session's message that comes before the
// SUBSCRIBE is sent is reported after it, as mosquitto_sub subscribes from
// its connect callback before it reads on.
func TestTracerSubscribeFirst(t *testing.T) {
	tr, done := collect(&halt{}, nil)
	tr.subscribeFirst = true
	tr.sent(pkt{kind: tCONNECT, id: "c"})
	tr.received(pkt{kind: tCONNACK})
	tr.received(pkt{kind: tPUBLISH, qos: 1, mid: 4, topic: "a", plen: 4})
	tr.seq.arrive(Message{QoS: 1, Mid: 4, Payload: []byte("kept")})
	tr.sent(pkt{kind: tPUBACK, mid: 4}) // the library answers before we subscribe
	tr.sent(pkt{kind: tSUBSCRIBE, mid: 1, subs: []Subscription{{Filter: "a", QoS: 1}}})
	tr.received(pkt{kind: tSUBACK, mid: 1, codes: []byte{1}})
	want := []string{
		"Client c sending CONNECT",
		"Client c received CONNACK (0)",
		"Client c sending SUBSCRIBE (Mid: 1, Topic: a, QoS: 1, Options: 0x00)",
		"Client c received PUBLISH (d0, q1, r0, m4, 'a', ... (4 bytes))",
		"Client c sending PUBACK (m4, rc0)",
		"message kept",
		"Client c received SUBACK",
	}
	if got := done(); !slices.Equal(got, want) {
		t.Errorf("lines:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
