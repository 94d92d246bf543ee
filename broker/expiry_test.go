package broker_test

import (
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// TestExpiryAcrossKill: a message's expiry runs on across a kill -9 and a
// restart, it does not start again: a retained message and a message
// queued for an offline persistent session, both published with a Message
// Expiry Interval of 100 s, are delivered after the restart with what is
// left of it. (Before, the retained one came with its whole 100 s and, in
// the broker, never expired again.)
func TestExpiryAcrossKill(t *testing.T) {
	dir := t.TempDir()
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location data\n")
	sub := mustDial(t, addr, connectPacket(5, "ex-sub", true, 600))
	mustSubscribe(t, sub, "ex/q", 1)
	sub.Close()
	pub := mustDial(t, addr, connectPacket(5, "ex-pub", true, 0))
	t0 := time.Now().Unix()
	for i, topic := range []string{"ex/r", "ex/q"} {
		pk := publishPacket(topic, []byte("expiring"), 1, uint16(i+1))
		pk.FixedHeader.Retain = topic == "ex/r"
		pk.Properties.MessageExpiryInterval = 100
		mustSend(t, pub, pk)
		mustRead(t, pub, packets.Puback)
	}
	b.Kill()
	restartBroker(t, b, p)
	// What is measured is the clock: at least 3 s after the publish.
	testutil.WaitFor(t, 10*time.Second, "3 s since the publish", func() bool { return time.Now().Unix() >= t0+3 })

	check := func(what string, pk packets.Packet) {
		t.Helper()
		if iv := pk.Properties.MessageExpiryInterval; iv == 0 || iv > 98 {
			t.Errorf("%s after the restart: Message Expiry Interval %d, want at most 98 (100 s, at least 2 s of which had passed)", what, iv)
		}
	}
	sub = mustDial(t, addr, connectPacket(5, "ex-sub", false, 600))
	check("the queued message", nextPublish(t, sub, "ex-sub"))
	r := mustDial(t, addr, connectPacket(5, "ex-r", true, 0))
	mustSubscribe(t, r, "ex/r", 1)
	check("the retained message", nextPublish(t, r, "ex-r"))
}
