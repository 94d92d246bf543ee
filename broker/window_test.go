package broker

import (
	"net"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// windowClient is a broker's queue hook and a connected client of protocol
// version ver with Receive Maximum rm (v5), as OnSessionEstablish sees it.
func windowClient(t testing.TB, ver byte, rm uint16) (*queueHook, *mqtt.Client) {
	br := unstartedBroker(t, []byte("listener 1 127.0.0.1\nallow_anonymous true\n"))
	c1, c2 := net.Pipe()
	t.Cleanup(func() { c1.Close(); c2.Close() })
	sub := br.server.NewClient(newFrameConn(c1, 0), "127.0.0.1:1", "sub", false)
	sub.Properties.ProtocolVersion = ver
	sub.Properties.Props.ReceiveMaximum = rm
	br.queue.OnSessionEstablish(sub, packets.Packet{})
	br.queue.OnSessionEstablished(sub, packets.Packet{}) // nothing to resend
	return br.queue, sub
}

func windowMsg(pid uint16) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: pid,
		TopicName: "t", Payload: []byte("p"), Origin: "pub", Created: int64(pid)}
}

// BenchmarkWindowMessage is the queue hook's share of one QoS 1 delivery
// (taken in, encoded, acknowledged) to a v3 client, which has no send
// window, and to a v5 client with a Receive Maximum, which has one.
func BenchmarkWindowMessage(b *testing.B) {
	for _, c := range []struct {
		name string
		ver  byte
		rm   uint16
	}{{"v3", 4, 0}, {"v5-window", 5, 20}} {
		b.Run(c.name, func(b *testing.B) {
			q, sub := windowClient(b, c.ver, c.rm)
			m := windowMsg(1)
			sub.State.Inflight.Set(m)
			ack := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: 1}
			b.ReportAllocs()
			for b.Loop() {
				q.OnQosPublish(sub, m, 0, 0)
				out := m
				q.OnPacketEncodeInPlace(sub, &out)
				a := ack
				_ = q.OnPacketReadInPlace(sub, &a)
			}
		})
	}
}

// TestWindowAllocatesNothing: a message through a v5 subscriber's send
// window, let through and acknowledged or held and given up, allocates
// nothing once the window's map and queue have grown.
func TestWindowAllocatesNothing(t *testing.T) {
	q, sub := windowClient(t, 5, 1)
	w := q.windowOf(sub)
	if w == nil || w.max != 1 {
		t.Fatalf("window %+v, want one of 1", w)
	}
	m1, m2 := windowMsg(1), windowMsg(2)
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
