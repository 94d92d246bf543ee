package broker_test

import (
	"slices"
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

// TestWildcardKeepsOwnParent: subscribing to P/# while subscribed to P
// itself leaves P's own options (QoS, subscription identifier) as the
// client set them: the companion must not subscribe P again with P/#'s.
// P's retained message still comes for the new P/#, as MQTT says.
func TestWildcardKeepsOwnParent(t *testing.T) {
	dir := t.TempDir()
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	pub := mustDial(t, addr, connectPacket(5, "wo-pub", true, 0))
	publishRaw(t, pub, 1, "wo/p", "kept", true)
	sub := mustDial(t, addr, connectPacket(5, "wo-sub", true, 0))
	subscribeRaw(t, sub, 1, 5, packets.Subscription{Filter: "wo/p", Qos: 0})
	if pk := nextPublish(t, sub, "wo-sub"); string(pk.Payload) != "kept" {
		t.Fatalf("retained message on subscribing wo/p: %s %q", pk.TopicName, pk.Payload)
	}
	subscribeRaw(t, sub, 2, 9, packets.Subscription{Filter: "wo/p/#", Qos: 1})
	if pk := nextPublish(t, sub, "wo-sub"); pk.TopicName != "wo/p" || string(pk.Payload) != "kept" {
		t.Fatalf("retained message of wo/p on subscribing wo/p/#: %s %q", pk.TopicName, pk.Payload)
	}
	unsub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe}, PacketID: 3,
		Filters: packets.Subscriptions{{Filter: "wo/p/#"}}}
	mustSend(t, sub, unsub)
	mustRead(t, sub, packets.Unsuback)
	publishRaw(t, pub, 2, "wo/p", "live", false)
	pk := nextPublish(t, sub, "wo-sub")
	if string(pk.Payload) != "live" || pk.FixedHeader.Qos != 0 || !slices.Equal(pk.Properties.SubscriptionIdentifier, []int{5}) {
		t.Errorf("wo/p after wo/p/# came and went: %q qos %d ids %v, want \"live\" at qos 0 with ids [5] (wo/p's own options)",
			pk.Payload, pk.FixedHeader.Qos, pk.Properties.SubscriptionIdentifier)
	}
}
