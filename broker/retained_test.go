package broker_test

import (
	"bytes"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"
)

// TestMaxRetainedBytes: with max_retained_bytes 1000, two retained
// messages of 400 bytes fit and a third is refused, at every QoS (v5 QoS
// 1/2: 0x97 quota exceeded; QoS 0 and v3: dropped), and logged once. The
// retained messages restored from the store after a restart count. A
// replacement no larger and a clear are accepted, and make room again; a
// message that is not retained is delivered whatever the total.
func TestMaxRetainedBytes(t *testing.T) {
	dir := t.TempDir()
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location .\nmax_retained_bytes 1000\n")
	pad := func(c byte, n int) []byte { return bytes.Repeat([]byte{c}, n) }
	retained := func(topic string, payload []byte, qos byte, id uint16) packets.Packet {
		pk := publishPacket(topic, payload, qos, id)
		pk.FixedHeader.Retain = true
		return pk
	}
	// publish sends a retained QoS 1 message and returns its PUBACK code.
	publish := func(rc *rawClient, topic string, payload []byte, id uint16) byte {
		t.Helper()
		mustSend(t, rc, retained(topic, payload, 1, id))
		return mustRead(t, rc, packets.Puback).ReasonCode
	}
	pub := mustDial(t, addr, connectPacket(5, "ret-pub", true, 0))
	// 3 + 397 bytes each (a v5 PUBACK 0x10 says no one subscribes).
	for i, topic := range []string{"r/a", "r/b"} {
		if code := publish(pub, topic, pad('a'+byte(i), 397), uint16(i+1)); code >= 0x80 {
			t.Fatalf("retained %s: PUBACK %#x, want success", topic, code)
		}
	}
	pub.Close()
	if err := b.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	b.Wait(t, 10*time.Second)
	b = restartBroker(t, b, p)

	pub = mustDial(t, addr, connectPacket(5, "ret-pub", true, 0))
	if code := publish(pub, "r/c", pad('c', 397), 3); code != 0x97 {
		t.Errorf("third retained message (QoS 1): PUBACK %#x, want 0x97", code)
	}
	mustSend(t, pub, retained("r/c", pad('c', 397), 2, 4))
	if code := mustRead(t, pub, packets.Pubrec).ReasonCode; code != 0x97 {
		t.Errorf("third retained message (QoS 2): PUBREC %#x, want 0x97", code)
	}
	mustSend(t, pub, retained("r/d", pad('d', 397), 0, 0))
	v3 := mustDial(t, addr, connectPacket(4, "ret-v3", true, 0))
	if code := publish(v3, "r/e", pad('e', 397), 1); code != 0 {
		t.Errorf("v3 retained over the limit: PUBACK %#x, want the plain ack", code)
	}
	b.waitLog(t, "Retained message from ret-pub (400 bytes) refused: the retained messages hold 800 bytes, max_retained_bytes is 1000")
	if n := strings.Count(b.Stderr(), "max_retained_bytes is 1000"); n != 1 {
		t.Errorf("%d log lines about the limit, want 1 (logged once)", n)
	}

	// A subscriber gets r/a and r/b only, then a live message above the
	// limit that is not retained.
	sub := mustDial(t, addr, connectPacket(5, "ret-sub", true, 0))
	mustSubscribe(t, sub, "r/#", 0)
	mustSend(t, pub, publishPacket("r/live", pad('l', 2000), 0, 0))
	got := map[string]int{}
	for range 3 {
		m := mustRead(t, sub, packets.Publish)
		got[m.TopicName] = len(m.Payload)
	}
	if want := map[string]int{"r/a": 397, "r/b": 397, "r/live": 2000}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("subscriber received %v, want %v", got, want)
	}

	// A smaller replacement and a clear make room for r/c.
	if code := publish(pub, "r/a", pad('A', 100), 5); code >= 0x80 {
		t.Errorf("smaller replacement: PUBACK %#x", code)
	}
	if code := publish(pub, "r/b", nil, 6); code >= 0x80 {
		t.Errorf("clear: PUBACK %#x", code)
	}
	if code := publish(pub, "r/c", pad('c', 397), 7); code >= 0x80 {
		t.Errorf("r/c once there is room: PUBACK %#x", code)
	}
	if code := publish(pub, "r/f", pad('f', 600), 8); code != 0x97 {
		t.Errorf("over the limit again: PUBACK %#x, want 0x97", code)
	}
	b.waitLog(t, "Retained message from ret-pub (603 bytes) refused")
	if n := strings.Count(b.Stderr(), "max_retained_bytes is 1000"); n != 2 {
		t.Errorf("%d log lines about the limit, want 2 (once each time it is reached)", n)
	}
}
