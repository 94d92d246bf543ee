package broker_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// subscribeRaw sends one SUBSCRIBE (with subscription identifier id when
// not 0) and checks that its SUBACK grants every filter.
func subscribeRaw(t *testing.T, rc *rawClient, pid uint16, id int, subs ...packets.Subscription) {
	t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: pid, Filters: subs}
	if id > 0 {
		pk.Properties.SubscriptionIdentifier = []int{id}
	}
	if err := rc.send(pk); err != nil {
		t.Fatal(err)
	}
	ack, err := rc.readTimeout(5 * time.Second)
	if err != nil || ack.FixedHeader.Type != packets.Suback {
		t.Fatalf("SUBSCRIBE %v: %v %v", subs, ack, err)
	}
	for i, c := range ack.ReasonCodes {
		if c >= 0x80 {
			t.Fatalf("SUBSCRIBE %s refused: %#x", subs[i].Filter, c)
		}
	}
}

// nextPublish reads the next PUBLISH, acknowledges it at QoS 1 and returns it.
func nextPublish(t *testing.T, rc *rawClient, who string) packets.Packet {
	t.Helper()
	for {
		pk, err := rc.readTimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("%s: waiting for a PUBLISH: %v", who, err)
		}
		if pk.FixedHeader.Type != packets.Publish {
			continue
		}
		if pk.FixedHeader.Qos == 1 {
			if err := rc.send(ack(packets.Puback, pk.PacketID, 0)); err != nil {
				t.Fatal(err)
			}
		}
		return pk
	}
}

// publishRaw publishes at QoS 1 and waits for its PUBACK.
func publishRaw(t *testing.T, rc *rawClient, pid uint16, topic, payload string, retain bool) {
	t.Helper()
	pk := publishPacket(topic, []byte(payload), 1, pid)
	pk.FixedHeader.Retain = retain
	if err := rc.send(pk); err != nil {
		t.Fatal(err)
	}
	for {
		a, err := rc.readTimeout(5 * time.Second)
		if err != nil {
			t.Fatalf("PUBLISH %s: waiting for PUBACK: %v", topic, err)
		}
		if a.FixedHeader.Type == packets.Puback && a.PacketID == pid {
			return
		}
	}
}

// TestSubscriptionOptionsSurviveRestart: every subscription option of a
// persistent session (QoS, No Local, Retain As Published, Retain Handling,
// the subscription identifier, a shared group) and a bridge's subscription
// (No Local and the retain flag kept, set by the broker for a client
// connecting with the bridge bit) behave the same after kill -9 and a
// restart, without the clients subscribing again.
func TestSubscriptionOptionsSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	p := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location data\n", p)
	b := startBroker(t, dir, conf, p)
	addr := testutil.Addr(p)
	dial := func(ver byte, id string, clean bool) *rawClient {
		t.Helper()
		rc, _, err := dialRaw(addr, connectPacket(ver, id, clean, 3600))
		if err != nil {
			t.Fatalf("connect %s: %v", id, err)
		}
		return rc
	}

	pub := dial(5, "pub", true)
	publishRaw(t, pub, 1, "rh/t", "stale", true)
	pub.Close()

	sub := dial(5, "v5sub", true)
	subscribeRaw(t, sub, 1, 7, packets.Subscription{Filter: "rap/#", Qos: 1, RetainAsPublished: true})
	subscribeRaw(t, sub, 2, 0, packets.Subscription{Filter: "nl/#", Qos: 1, NoLocal: true})
	subscribeRaw(t, sub, 3, 9, packets.Subscription{Filter: "$share/g/sh/#", Qos: 1})
	subscribeRaw(t, sub, 4, 0, packets.Subscription{Filter: "rh/t", RetainHandling: 1})
	if pk := nextPublish(t, sub, "v5sub"); pk.TopicName != "rh/t" || string(pk.Payload) != "stale" {
		t.Fatalf("retained message on the first subscription to rh/t: %s %q", pk.TopicName, pk.Payload)
	}
	sub.Close()
	br := dial(0x84, "bridge", false)
	subscribeRaw(t, br, 1, 0, packets.Subscription{Filter: "br/#", Qos: 1})
	br.Close()

	b.Kill() // SIGKILL: the subscriptions are what the store holds
	b = restartBroker(t, b, p)
	b.waitLog(t, "running")

	sub = dial(5, "v5sub", false)
	defer sub.Close()
	br = dial(0x84, "bridge", false)
	defer br.Close()
	pub = dial(5, "pub", true)
	defer pub.Close()

	// Retain Handling 1 (QoS 0: nothing of it in flight to resend after
	// kill -9): the subscription exists, so subscribing again
	// sends no retained message; the live one after it is the first.
	subscribeRaw(t, sub, 5, 0, packets.Subscription{Filter: "rh/t", RetainHandling: 1})
	publishRaw(t, pub, 1, "rh/t", "live", false)
	if pk := nextPublish(t, sub, "v5sub"); string(pk.Payload) != "live" {
		t.Errorf("resubscribing rh/t with retain handling 1 after the restart sent %q first, want the live message", pk.Payload)
	}

	// Retain As Published, QoS and the subscription identifier.
	publishRaw(t, pub, 2, "rap/x", "kept", true)
	pk := nextPublish(t, sub, "v5sub")
	if pk.TopicName != "rap/x" || !pk.FixedHeader.Retain || pk.FixedHeader.Qos != 1 || !slices.Equal(pk.Properties.SubscriptionIdentifier, []int{7}) {
		t.Errorf("rap/x after the restart: topic %s %q retain %v qos %d ids %v, want retain true, qos 1, ids [7]",
			pk.TopicName, pk.Payload, pk.FixedHeader.Retain, pk.FixedHeader.Qos, pk.Properties.SubscriptionIdentifier)
	}

	// No Local: its own message is not sent back, the next one is.
	publishRaw(t, sub, 10, "nl/own", "own", false)
	publishRaw(t, pub, 3, "nl/other", "other", false)
	if pk := nextPublish(t, sub, "v5sub"); pk.TopicName != "nl/other" {
		t.Errorf("no local after the restart: got %s first, want nl/other", pk.TopicName)
	}

	// The shared group, with its identifier.
	publishRaw(t, pub, 4, "sh/x", "shared", false)
	if pk := nextPublish(t, sub, "v5sub"); pk.TopicName != "sh/x" || pk.FixedHeader.Qos != 1 || !slices.Equal(pk.Properties.SubscriptionIdentifier, []int{9}) {
		t.Errorf("shared subscription after the restart: topic %s qos %d ids %v, want sh/x, qos 1, ids [9]",
			pk.TopicName, pk.FixedHeader.Qos, pk.Properties.SubscriptionIdentifier)
	}

	// The bridge: its own message is not sent back, a retained one keeps
	// its retain flag.
	publishRaw(t, br, 10, "br/own", "own", false)
	publishRaw(t, pub, 5, "br/x", "retained", true)
	if pk := nextPublish(t, br, "bridge"); pk.TopicName != "br/x" || !pk.FixedHeader.Retain || pk.FixedHeader.Qos != 1 {
		t.Errorf("bridge after the restart: topic %s retain %v qos %d, want br/x with retain true, qos 1",
			pk.TopicName, pk.FixedHeader.Retain, pk.FixedHeader.Qos)
	}
}
