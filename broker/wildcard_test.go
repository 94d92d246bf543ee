package broker_test

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestWildcardParentAcrossKill: a client subscribed to P itself and to
// P/# keeps P when it unsubscribes P/#, also after a kill -9 and restart
// (which subscription of P is the client's own and which the broker added
// beside P/# is durable). The companion alone goes with P/#.
func TestWildcardParentAcrossKill(t *testing.T) {
	dir := t.TempDir()
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location data\n")
	sub := mustDial(t, addr, connectPacket(5, "wc-sub", true, 300))
	mustSubscribe(t, sub, "wc/own", 1)
	mustSubscribe(t, sub, "wc/own/#", 1)
	mustSubscribe(t, sub, "wc/comp/#", 1) // wc/comp is the broker's companion
	sub.Close()
	b.Kill() // SIGKILL: what decides it is what the store holds
	restartBroker(t, b, p)

	sub = mustDial(t, addr, connectPacket(5, "wc-sub", false, 300))
	unsub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe}, PacketID: 9,
		Filters: packets.Subscriptions{{Filter: "wc/own/#"}, {Filter: "wc/comp/#"}}}
	mustSend(t, sub, unsub)
	if ua := mustRead(t, sub, packets.Unsuback); len(ua.ReasonCodes) != 2 || ua.ReasonCodes[0] != 0 || ua.ReasonCodes[1] != 0 {
		t.Fatalf("UNSUBACK %v, want [0 0]", ua.ReasonCodes)
	}
	pub := mustDial(t, addr, connectPacket(5, "wc-pub", true, 0))
	mustSend(t, pub, publishPacket("wc/comp", []byte("gone"), 1, 1))
	mustRead(t, pub, packets.Puback)
	mustSend(t, pub, publishPacket("wc/own", []byte("kept"), 1, 2))
	mustRead(t, pub, packets.Puback)
	m, err := sub.readTimeout(10 * time.Second)
	if err != nil {
		t.Fatalf("the explicit subscription to wc/own was lost with wc/own/#: %v", err)
	}
	if m.FixedHeader.Type != packets.Publish || m.TopicName != "wc/own" {
		t.Fatalf("got packet type %d topic %q payload %q, want the PUBLISH to wc/own (wc/comp went with wc/comp/#)", m.FixedHeader.Type, m.TopicName, m.Payload)
	}
}
