package broker

import (
	"net"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
)

// TestWindowAllocatesNothing: a message through a v5 subscriber's send
// window, let through and acknowledged or held and given up, allocates
// nothing once the window's map and queue have grown.
func TestWindowAllocatesNothing(t *testing.T) {
	cfg, err := conf.Parse("b.conf", []byte("listener 1 127.0.0.1\nallow_anonymous true\n"))
	if err != nil {
		t.Fatal(err)
	}
	br, err := New(cfg, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	sub := br.server.NewClient(newFrameConn(c1, 0), "127.0.0.1:1", "sub", false)
	sub.Properties.ProtocolVersion = 5
	sub.Properties.Props.ReceiveMaximum = 1
	q := br.queue
	q.OnSessionEstablish(sub, packets.Packet{})
	w := q.windowOf(sub)
	if w == nil || w.max != 1 {
		t.Fatalf("window %+v, want one of 1", w)
	}
	msg := func(pid uint16) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: pid,
			TopicName: "t", Payload: []byte("p"), Origin: "pub", Created: int64(pid)}
	}
	m1, m2 := msg(1), msg(2)
	puback := func(pid uint16) packets.Packet {
		return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pid}
	}
	sub.State.Inflight.Set(m1)
	sub.State.Inflight.Set(m2)
	cycle := func() {
		// m1 comes and goes out at once
		q.OnQosPublish(sub, m1, 0, 0)
		out := m1
		q.OnPacketEncodeInPlace(sub, &out)
		if out.FixedHeader.Type != packets.Publish {
			t.Fatal("m1 held with an empty window")
		}
		// m2 comes while m1 is in flight: held, a marker goes instead
		q.OnQosPublish(sub, m2, 0, 0)
		out = m2
		q.OnPacketEncodeInPlace(sub, &out)
		if out.FixedHeader.Type != packets.Pingreq || w.held.len() != 1 {
			t.Fatalf("m2 written as type %d with %d held, want the marker and 1 held", out.FixedHeader.Type, w.held.len())
		}
		// the client acknowledges m2 before it got it (it may): m2 is
		// no longer held; then m1's PUBACK empties the window
		ack := puback(2)
		_ = q.OnPacketReadInPlace(sub, &ack)
		ack = puback(1)
		_ = q.OnPacketReadInPlace(sub, &ack)
		if len(w.out) != 0 || w.held.len() != 0 || w.pending != 0 {
			t.Fatalf("window after the acks: %d out, %d held, %d pending; want none", len(w.out), w.held.len(), w.pending)
		}
	}
	cycle()
	if n := testing.AllocsPerRun(100, cycle); n != 0 {
		t.Errorf("%v allocations per message pair, want 0", n)
	}
}

// TestFIFOReusesItsArray: a queue of held messages that is filled and
// drained over and over, never quite empty, allocates nothing (popping by
// reslicing from the front would grow a new array again and again).
func TestFIFOReusesItsArray(t *testing.T) {
	var q fifo
	n := uint16(0)
	round := func() {
		for range 100 {
			n++
			q.push(heldOut{id: msgID{pid: n}})
		}
		for q.len() > 1 {
			if m := q.pop(); m.id.pid == 0 {
				t.Fatal("popped an empty entry")
			}
		}
	}
	round()
	if a := testing.AllocsPerRun(50, round); a != 0 {
		t.Errorf("%v allocations per round, want 0", a)
	}
	if q.len() != 1 || q.pop().id.pid != n {
		t.Error("the last message pushed is not the one left")
	}
}
