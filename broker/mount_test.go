package broker_test

import (
	"fmt"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// TestMountPoint: a listener with mount_point gives its clients the tree
// under the prefix. A topic that is not longer than the prefix (a filter
// "#" becomes "mnt/#", which also matches "mnt" and "mnt/") is not sent,
// as in Mosquitto; a message queued for a mounted persistent session loses
// the prefix when it is sent after a restart too. The diff test
// (internal/mosqdiff, mount-*) compares the rest with Mosquitto.
func TestMountPoint(t *testing.T) {
	dir := t.TempDir()
	plain, mnt := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("allow_anonymous true\npersistence true\npersistence_location %s\nlistener %d 127.0.0.1\nlistener %d 127.0.0.1\nmount_point mnt/\n", dir, plain, mnt)
	b := startBroker(t, dir, conf, plain, mnt)

	sub := mustDial(t, testutil.Addr(mnt), connectPacket(4, "mount-sub", false, 0))
	mustSubscribe(t, sub, "#", 1)
	pub := mustDial(t, testutil.Addr(plain), connectPacket(4, "mount-pub", true, 0))
	for i, topic := range []string{"mnt", "mnt/", "other/x", "mnt/x"} {
		mustSend(t, pub, publishPacket(topic, []byte(topic), 1, uint16(i+1)))
		mustRead(t, pub, packets.Puback)
	}
	if m := mustRead(t, sub, packets.Publish); m.TopicName != "x" || string(m.Payload) != "mnt/x" {
		t.Fatalf("first delivery %q %q, want x (from mnt/x)", m.TopicName, m.Payload)
	} else {
		mustSend(t, sub, ack(packets.Puback, m.PacketID, 0))
	}
	mustSend(t, sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	mustRead(t, sub, packets.Pingresp)
	sub.Close()

	// Queued while the session is offline, sent after a restart.
	mustSend(t, pub, publishPacket("mnt/queued", []byte("q"), 1, 9))
	mustRead(t, pub, packets.Puback)
	pub.Close()
	b.Kill()
	restartBroker(t, b, plain, mnt)
	sub = mustDial(t, testutil.Addr(mnt), connectPacket(4, "mount-sub", false, 0))
	if m := mustRead(t, sub, packets.Publish); m.TopicName != "queued" {
		t.Fatalf("queued delivery %q, want queued", m.TopicName)
	}
}
