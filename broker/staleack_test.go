package broker_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// staleAckCase: message A at QoS first completes after a reconnect, B at
// QoS second is delivered next (under A's packet id on mqtls, which starts
// each connection's ids at 1), and the subscriber sends an acknowledgement
// of type stale for B's id that cannot answer B (it answers A, or nothing).
// pubrec: B gets its PUBREC first, so that it is in its PUBREL phase.
type staleAckCase struct {
	name          string
	first, second byte
	pubrec        bool
	stale         byte
}

var staleAckCases = []staleAckCase{
	{name: "puback to a qos 2 publish", first: 1, second: 2, stale: packets.Puback},
	{name: "puback to a qos 2 pubrel", first: 1, second: 2, pubrec: true, stale: packets.Puback},
	{name: "pubcomp to a qos 2 publish", first: 2, second: 2, stale: packets.Pubcomp},
	{name: "pubrec to a qos 1 publish", first: 2, second: 1, stale: packets.Pubrec},
}

// TestStaleAckCompletesNothing: an acknowledgement that cannot answer the
// message under its packet id (a PUBACK to a QoS 2 message, a PUBCOMP to a
// QoS 2 PUBLISH, a PUBREC to a QoS 1 one) completes nothing: after kill -9
// and a restart the message is delivered again. Mosquitto, the oracle,
// keeps the message too (it closes the connection on such an answer).
func TestStaleAckCompletesNothing(t *testing.T) {
	for _, c := range staleAckCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			p := testutil.FreePort(t)
			b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location data\n", p), p)
			staleAck(t, testutil.Addr(p), c, func() {
				b.Kill()
				b = restartBroker(t, b, p)
			})
		})
	}
}

// TestStaleAckMosquitto runs the same cases against Mosquitto (without a
// restart: whether it completes the message shows on the reconnect).
func TestStaleAckMosquitto(t *testing.T) {
	for _, c := range staleAckCases {
		t.Run(c.name, func(t *testing.T) {
			p := testutil.FreePort(t)
			testutil.Mosquitto(t, p, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p))
			staleAck(t, testutil.Addr(p), c, func() {})
		})
	}
}

func staleAck(t *testing.T, addr string, c staleAckCase, restart func()) {
	connect := func(clean bool) *rawClient {
		t.Helper()
		cp := connectPacket(5, "stale-sub", clean, 600)
		cp.Properties.ReceiveMaximum = 1
		rc, _, err := dialRaw(addr, cp)
		if err != nil {
			t.Fatal(err)
		}
		return rc
	}
	expect := func(rc *rawClient, typ byte, what string) packets.Packet {
		t.Helper()
		pk, err := rc.readTimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if pk.FixedHeader.Type != typ {
			t.Fatalf("%s: got %s %d, want %s", what, pkName(pk.FixedHeader.Type), pk.PacketID, pkName(typ))
		}
		return pk
	}
	publish := func(payload string, qos byte) {
		t.Helper()
		rc, _, err := dialRaw(addr, connectPacket(5, "stale-pub", true, 0))
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		if err := rc.send(publishPacket("stale/x", []byte(payload), qos, 7)); err != nil {
			t.Fatal(err)
		}
		if qos == 1 {
			expect(rc, packets.Puback, "publisher")
			return
		}
		expect(rc, packets.Pubrec, "publisher")
		if err := rc.send(ack(packets.Pubrel, 7, 0)); err != nil {
			t.Fatal(err)
		}
		expect(rc, packets.Pubcomp, "publisher")
	}
	send := func(rc *rawClient, pk packets.Packet) {
		t.Helper()
		if err := rc.send(pk); err != nil {
			t.Fatal(err)
		}
	}

	sub := connect(true)
	send(sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "stale/#", Qos: 2}}})
	expect(sub, packets.Suback, "suback")

	// A is read and not answered; the reconnect resends it, and it completes.
	publish("A", c.first)
	a := expect(sub, packets.Publish, "A")
	sub.Close()
	sub = connect(false)
	a2 := expect(sub, packets.Publish, "A resent")
	if string(a2.Payload) != "A" || a2.PacketID != a.PacketID || !a2.FixedHeader.Dup {
		t.Fatalf("resent %q id %d dup %v, want A id %d dup true", a2.Payload, a2.PacketID, a2.FixedHeader.Dup, a.PacketID)
	}
	if c.first == 1 {
		send(sub, ack(packets.Puback, a.PacketID, 0))
	} else {
		send(sub, ack(packets.Pubrec, a.PacketID, 0))
		expect(sub, packets.Pubrel, "A's pubrel")
		send(sub, ack(packets.Pubcomp, a.PacketID, 0))
	}

	publish("B", c.second)
	bp := expect(sub, packets.Publish, "B")
	t.Logf("A under id %d, B under id %d", a.PacketID, bp.PacketID)
	if c.pubrec {
		send(sub, ack(packets.Pubrec, bp.PacketID, 0))
		expect(sub, packets.Pubrel, "B's pubrel")
	}
	send(sub, ack(c.stale, bp.PacketID, 0))
	// Whatever the broker does with it is done once it answers a PINGREQ
	// (or closes the connection, as Mosquitto does).
	send(sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	for {
		pk, err := sub.readTimeout(5 * time.Second)
		if err != nil || pk.FixedHeader.Type == packets.Pingresp {
			break
		}
		t.Logf("after the stale %s: %s %d", pkName(c.stale), pkName(pk.FixedHeader.Type), pk.PacketID)
	}
	sub.Close()
	// A SUBACK goes out once its write is durable, and the store writes in
	// order: whatever the stale answer changed on disk is there before the
	// kill.
	syncer, _, err := dialRaw(addr, connectPacket(5, "stale-sync", true, 0))
	if err != nil {
		t.Fatal(err)
	}
	send(syncer, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "sync/#", Qos: 1}}})
	expect(syncer, packets.Suback, "sync suback")
	syncer.Close()
	restart()

	sub = connect(false)
	defer sub.Close()
	pk, err := sub.readTimeout(5 * time.Second)
	switch {
	case err != nil:
		t.Fatalf("B was not delivered again after the stale %s: %v", pkName(c.stale), err)
	case c.pubrec:
		if pk.FixedHeader.Type != packets.Pubrel || pk.PacketID != bp.PacketID {
			t.Fatalf("got %s %d, want B's PUBREL %d again", pkName(pk.FixedHeader.Type), pk.PacketID, bp.PacketID)
		}
	case pk.FixedHeader.Type != packets.Publish || string(pk.Payload) != "B" || !pk.FixedHeader.Dup:
		t.Fatalf("got %s %d %q dup %v, want B again with DUP 1", pkName(pk.FixedHeader.Type), pk.PacketID, pk.Payload, pk.FixedHeader.Dup)
	}
}

func pkName(t byte) string {
	if n, ok := map[byte]string{packets.Publish: "PUBLISH", packets.Pubrel: "PUBREL", packets.Pingresp: "PINGRESP",
		packets.Suback: "SUBACK", packets.Disconnect: "DISCONNECT"}[t]; ok {
		return n
	}
	if n := packetName(t); n != "" {
		return n
	}
	return fmt.Sprintf("type %d", t)
}
