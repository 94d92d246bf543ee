package broker_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// rawBroker starts a broker process with conf (listener line added) and
// returns its address.
func rawBroker(t *testing.T, dir, conf string) (*brokerProc, string, int) {
	t.Helper()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\n", p)+conf, p)
	return b, testutil.Addr(p), p
}

func mustDial(t *testing.T, addr string, pk packets.Packet) *rawClient {
	t.Helper()
	rc, _, err := dialRaw(addr, pk)
	if err != nil {
		t.Fatalf("connect %s: %v", pk.Connect.ClientIdentifier, err)
	}
	t.Cleanup(func() { rc.Close() })
	return rc
}

func mustSubscribe(t *testing.T, rc *rawClient, filter string, qos byte) {
	t.Helper()
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 77,
		Filters: packets.Subscriptions{{Filter: filter, Qos: qos}}}
	if err := rc.send(pk); err != nil {
		t.Fatal(err)
	}
	sa := mustRead(t, rc, packets.Suback)
	if len(sa.ReasonCodes) != 1 || sa.ReasonCodes[0] != qos {
		t.Fatalf("SUBACK %v for %s, want [%d]", sa.ReasonCodes, filter, qos)
	}
}

// mustRead reads the next packet, which must be of type typ.
func mustRead(t *testing.T, rc *rawClient, typ byte) packets.Packet {
	t.Helper()
	pk, err := rc.readTimeout(10 * time.Second)
	if err != nil {
		t.Fatalf("waiting for packet type %d: %v", typ, err)
	}
	if pk.FixedHeader.Type != typ {
		t.Fatalf("got packet type %d (reason %#x, id %d), want %d", pk.FixedHeader.Type, pk.ReasonCode, pk.PacketID, typ)
	}
	return pk
}

func mustSend(t *testing.T, rc *rawClient, pk packets.Packet) {
	t.Helper()
	if err := rc.send(pk); err != nil {
		t.Fatal(err)
	}
}

// TestAcksCarryNoPublishProperties: a v5 PUBACK or PUBREC carries its
// reason code and nothing of the PUBLISH it answers (strict clients refuse
// "PUBACK packet is wrong length"); a publish nobody subscribes to gets
// 0x10 (no matching subscribers), as from Mosquitto.
func TestAcksCarryNoPublishProperties(t *testing.T) {
	dir := t.TempDir()
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	sub := mustDial(t, addr, connectPacket(5, "props-sub", true, 0))
	mustSubscribe(t, sub, "props/with", 1)
	pub := mustDial(t, addr, connectPacket(5, "props-pub", true, 0))
	for i, c := range []struct {
		topic string
		qos   byte
		code  byte
	}{
		{"props/with", 1, 0}, {"props/with", 2, 0}, {"props/none", 1, 0x10}, {"props/none", 2, 0x10},
	} {
		pk := publishPacket(c.topic, []byte("x"), c.qos, uint16(10+i))
		pk.Properties.User = []packets.UserProperty{{Key: "trace", Val: "abc"}}
		pk.Properties.ContentType = "text/plain"
		pk.Properties.ResponseTopic = "reply/here"
		pk.Properties.CorrelationData = []byte("corr")
		mustSend(t, pub, pk)
		want := byte(packets.Puback)
		if c.qos == 2 {
			want = packets.Pubrec
		}
		a := mustRead(t, pub, want)
		if a.ReasonCode != c.code {
			t.Errorf("q%d to %s: reason %#x, want %#x", c.qos, c.topic, a.ReasonCode, c.code)
		}
		p := a.Properties
		if len(p.User) > 0 || p.ContentType != "" || p.ResponseTopic != "" || len(p.CorrelationData) > 0 {
			t.Errorf("q%d ack carries the publish's properties: %+v", c.qos, p)
		}
		if c.qos == 2 {
			mustSend(t, pub, ack(packets.Pubrel, a.PacketID, 0))
			if comp := mustRead(t, pub, packets.Pubcomp); comp.ReasonCode != 0 {
				t.Errorf("PUBCOMP reason %#x", comp.ReasonCode)
			}
		}
	}
}

// TestTopicAliasPublishChecked: a v5 publish that names its topic by an
// alias only is checked against the topic the alias stands for, at every
// QoS: the ACL allows it, so it is delivered (refused with 0x87 before).
func TestTopicAliasPublishChecked(t *testing.T) {
	dir := t.TempDir()
	if err := writeFile(filepath.Join(dir, "acl"), "topic readwrite alias/#\n"); err != nil {
		t.Fatal(err)
	}
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\nacl_file acl\n")
	sub := mustDial(t, addr, connectPacket(5, "alias-sub", true, 0))
	mustSubscribe(t, sub, "alias/#", 1)
	pub := mustDial(t, addr, connectPacket(5, "alias-pub", true, 0))
	for i, qos := range []byte{1, 1, 0, 2} {
		pk := publishPacket("", []byte(fmt.Sprint(i)), qos, uint16(i+1))
		if i == 0 {
			pk.TopicName = "alias/t" // sets alias 1
		}
		if qos == 0 {
			pk.PacketID = 0
		}
		pk.Properties.TopicAlias, pk.Properties.TopicAliasFlag = 1, true
		mustSend(t, pub, pk)
		switch qos {
		case 1:
			if a := mustRead(t, pub, packets.Puback); a.ReasonCode != 0 {
				t.Errorf("message %d: PUBACK %#x, want 0", i, a.ReasonCode)
			}
		case 2:
			a := mustRead(t, pub, packets.Pubrec)
			if a.ReasonCode != 0 {
				t.Errorf("message %d: PUBREC %#x, want 0", i, a.ReasonCode)
			}
			mustSend(t, pub, ack(packets.Pubrel, a.PacketID, 0))
			mustRead(t, pub, packets.Pubcomp)
		}
		got := mustRead(t, sub, packets.Publish)
		if got.TopicName != "alias/t" || string(got.Payload) != fmt.Sprint(i) {
			t.Errorf("message %d delivered as %q %q", i, got.TopicName, got.Payload)
		}
		if got.FixedHeader.Qos > 0 {
			mustSend(t, sub, ack(packets.Puback, got.PacketID, 0))
		}
	}
}

// TestReceiveMaximumOneQoS2: a subscriber that allows one message in
// flight (Receive Maximum 1) gets three QoS 2 messages one after another,
// each completed with PUBREL 0 (mochi answered the 2nd and 3rd PUBREC with
// PUBREL 0x92: it forgot them once sent).
func TestReceiveMaximumOneQoS2(t *testing.T) {
	dir := t.TempDir()
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	sub, _ := rmSubscriber(t, addr, "rm1-sub", 0, 1, "rm1/#", 2)
	pub := mustDial(t, addr, connectPacket(5, "rm1-pub", true, 0))
	for i := 1; i <= 3; i++ {
		mustSend(t, pub, publishPacket("rm1/t", []byte(fmt.Sprint(i)), 2, uint16(i)))
		rec := mustRead(t, pub, packets.Pubrec)
		mustSend(t, pub, ack(packets.Pubrel, rec.PacketID, 0))
		mustRead(t, pub, packets.Pubcomp)
	}
	for i := 1; i <= 3; i++ {
		m := mustRead(t, sub, packets.Publish)
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("message %d: got %q", i, m.Payload)
		}
		mustSend(t, sub, ack(packets.Pubrec, m.PacketID, 0))
		rel := mustRead(t, sub, packets.Pubrel)
		if rel.ReasonCode != 0 || rel.PacketID != m.PacketID {
			t.Fatalf("message %d: PUBREL id %d reason %#x, want id %d reason 0", i, rel.PacketID, rel.ReasonCode, m.PacketID)
		}
		mustSend(t, sub, ack(packets.Pubcomp, m.PacketID, 0))
	}
}

// TestSysPublishRefused: a client's QoS 1/2 publish to $SYS is refused
// with 0x87 in v5 (never left without an acknowledgement) and acknowledged
// and dropped in v3, as Mosquitto does; nobody receives it.
func TestSysPublishRefused(t *testing.T) {
	dir := t.TempDir()
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	sub := mustDial(t, addr, connectPacket(5, "sys-sub", true, 0))
	mustSubscribe(t, sub, "$SYS/test/#", 1)
	v5 := mustDial(t, addr, connectPacket(5, "sys-v5", true, 0))
	mustSend(t, v5, publishPacket("$SYS/test/x", []byte("no"), 1, 1))
	if a := mustRead(t, v5, packets.Puback); a.ReasonCode != 0x87 {
		t.Errorf("v5 q1 $SYS: PUBACK %#x, want 0x87", a.ReasonCode)
	}
	mustSend(t, v5, publishPacket("$SYS/test/x", []byte("no"), 2, 2))
	if a := mustRead(t, v5, packets.Pubrec); a.ReasonCode != 0x87 {
		t.Errorf("v5 q2 $SYS: PUBREC %#x, want 0x87", a.ReasonCode)
	}
	v3 := mustDial(t, addr, connectPacket(4, "sys-v3", true, 0))
	mustSend(t, v3, publishPacket("$SYS/test/x", []byte("no"), 1, 1))
	mustRead(t, v3, packets.Puback)
	mustSend(t, v3, publishPacket("$SYS/test/x", []byte("no"), 2, 2))
	mustRead(t, v3, packets.Pubrec)
	mustSend(t, v3, ack(packets.Pubrel, 2, 0))
	mustRead(t, v3, packets.Pubcomp)
	// A marker after them: the subscriber must see it first.
	mustSend(t, v5, publishPacket("$SYS/test/x", []byte("no"), 0, 0))
	if pk, err := sub.readTimeout(300 * time.Millisecond); err == nil {
		t.Errorf("a client's $SYS publish was delivered: %q %q", pk.TopicName, pk.Payload)
	}
}

// TestQueuedFirstDeliveryDupZero: messages queued for an offline session
// go out with DUP 0 the first time; a message resent after a reconnect
// carries DUP 1. The order of arrival is kept, also within one second.
func TestQueuedFirstDeliveryDupZero(t *testing.T) {
	dir := t.TempDir()
	b, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	sub := mustDial(t, addr, connectPacket(5, "dup-sub", true, 300))
	mustSubscribe(t, sub, "dup/#", 1)
	sub.Close()
	// Offline only once the broker saw the close: until then it still
	// writes the messages to the old connection, and their next delivery
	// rightly carries DUP 1.
	b.waitLog(t, "Client dup-sub closed its connection")
	pub := mustDial(t, addr, connectPacket(5, "dup-pub", true, 0))
	const n = 40
	for i := 1; i <= n; i++ {
		mustSend(t, pub, publishPacket("dup/t", []byte(fmt.Sprint(i)), 1, uint16(i)))
		mustRead(t, pub, packets.Puback)
	}
	sub = mustDial(t, addr, connectPacket(5, "dup-sub", false, 300))
	var first packets.Packet
	for i := 1; i <= n; i++ {
		m := mustRead(t, sub, packets.Publish)
		if m.FixedHeader.Dup {
			t.Errorf("queued message %s: first delivery with DUP 1", m.Payload)
		}
		if string(m.Payload) != fmt.Sprint(i) {
			t.Fatalf("queued message %d arrived as %q: order lost", i, m.Payload)
		}
		if i == 1 {
			first = m // left unacknowledged
			continue
		}
		mustSend(t, sub, ack(packets.Puback, m.PacketID, 0))
	}
	// the broker answers in order: its PINGRESP says the PUBACKs before it
	// were handled, so the takeover below cannot overtake them
	mustSend(t, sub, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	mustRead(t, sub, packets.Pingresp)
	sub.Close()
	sub = mustDial(t, addr, connectPacket(5, "dup-sub", false, 300))
	m := mustRead(t, sub, packets.Publish)
	if !m.FixedHeader.Dup || string(m.Payload) != string(first.Payload) {
		t.Errorf("resent message: DUP %v payload %q, want DUP 1 and %q", m.FixedHeader.Dup, m.Payload, first.Payload)
	}
}

// TestIncomingIDKeepsOutgoing: client and server packet ids are separate
// spaces. A client's QoS 1 publish with the id of a message the broker has
// in flight to it does not drop that message (mochi deleted it).
func TestIncomingIDKeepsOutgoing(t *testing.T) {
	dir := t.TempDir()
	_, addr, _ := rawBroker(t, dir, "allow_anonymous true\n")
	c := mustDial(t, addr, connectPacket(5, "ids-c", true, 300))
	mustSubscribe(t, c, "ids/in", 1)
	other := mustDial(t, addr, connectPacket(5, "ids-o", true, 0))
	mustSend(t, other, publishPacket("ids/in", []byte("keep"), 1, 1))
	mustRead(t, other, packets.Puback)
	m := mustRead(t, c, packets.Publish) // not acknowledged
	mustSend(t, c, publishPacket("ids/out", []byte("x"), 1, m.PacketID))
	mustRead(t, c, packets.Puback)
	c.Close()
	c = mustDial(t, addr, connectPacket(5, "ids-c", false, 300))
	again := mustRead(t, c, packets.Publish)
	if string(again.Payload) != "keep" || again.PacketID != m.PacketID {
		t.Errorf("after reconnect got %q id %d, want the unacknowledged %q id %d", again.Payload, again.PacketID, "keep", m.PacketID)
	}
}

// TestExactlyOnceAcrossRestart: QoS 2 across kill -9, both directions.
// Inbound: a PUBLISH acknowledged with PUBREC before the kill and retried
// after it (DUP) gets PUBREC 0, not 0x91, and is delivered once. Outbound:
// a subscriber that sent PUBREC before the kill gets the PUBREL after it,
// not the PUBLISH again.
func TestExactlyOnceAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location data\n")
	sub := mustDial(t, addr, connectPacket(5, "eo-sub", true, 300))
	mustSubscribe(t, sub, "eo/#", 2)
	pub := mustDial(t, addr, connectPacket(5, "eo-pub", true, 300))
	mustSend(t, pub, publishPacket("eo/in", []byte("once"), 2, 7))
	if r := mustRead(t, pub, packets.Pubrec); r.ReasonCode != 0 {
		t.Fatalf("PUBREC %#x", r.ReasonCode)
	}
	m := mustRead(t, sub, packets.Publish)
	if string(m.Payload) != "once" {
		t.Fatalf("delivered %q", m.Payload)
	}
	// A second message the subscriber takes to its PUBREL phase.
	mustSend(t, pub, publishPacket("eo/out", []byte("rel"), 2, 8))
	mustRead(t, pub, packets.Pubrec)
	m2 := mustRead(t, sub, packets.Publish)
	mustSend(t, sub, ack(packets.Pubrec, m2.PacketID, 0))
	if rel := mustRead(t, sub, packets.Pubrel); rel.PacketID != m2.PacketID {
		t.Fatalf("PUBREL for %d, want %d (first message id %d)", rel.PacketID, m2.PacketID, m.PacketID)
	}

	b.Kill()
	restartBroker(t, b, p)
	sub = mustDial(t, addr, connectPacket(5, "eo-sub", false, 300))
	pub = mustDial(t, addr, connectPacket(5, "eo-pub", false, 300))
	retry := publishPacket("eo/in", []byte("once"), 2, 7)
	retry.FixedHeader.Dup = true
	mustSend(t, pub, retry)
	if r := mustRead(t, pub, packets.Pubrec); r.ReasonCode != 0 || r.PacketID != 7 {
		t.Errorf("retried PUBLISH after restart: PUBREC id %d reason %#x, want id 7 reason 0", r.PacketID, r.ReasonCode)
	}
	mustSend(t, pub, ack(packets.Pubrel, 7, 0))
	if c := mustRead(t, pub, packets.Pubcomp); c.ReasonCode != 0 {
		t.Errorf("PUBCOMP %#x", c.ReasonCode)
	}
	// The subscriber: message 1 resent (it never sent PUBREC), message 2
	// in its PUBREL phase.
	seen := map[string]int{}
	rels := map[uint16]bool{} // PUBREL seen, by packet id
	for !rels[m.PacketID] || !rels[m2.PacketID] {
		pk, err := sub.readTimeout(10 * time.Second)
		if err != nil {
			t.Fatalf("subscriber after restart: %v (seen %v, PUBREL for %v)", err, seen, rels)
		}
		switch pk.FixedHeader.Type {
		case packets.Publish:
			seen[string(pk.Payload)]++
			if pk.PacketID != m.PacketID {
				t.Errorf("resent %q with id %d, want %d", pk.Payload, pk.PacketID, m.PacketID)
			}
			mustSend(t, sub, ack(packets.Pubrec, pk.PacketID, 0))
		case packets.Pubrel:
			rels[pk.PacketID] = true
			mustSend(t, sub, ack(packets.Pubcomp, pk.PacketID, 0))
		}
	}
	if seen["rel"] > 0 {
		t.Errorf("message in PUBREL phase: PUBLISH resent %d times; want its PUBREL only", seen["rel"])
	}
	if seen["once"] != 1 {
		t.Errorf("message awaiting PUBREC resent %d times, want 1", seen["once"])
	}
	if pk, err := sub.readTimeout(300 * time.Millisecond); err == nil {
		t.Errorf("more after the resends: type %d %q", pk.FixedHeader.Type, pk.Payload)
	}
}

// TestStoreFolderPrivate: the store's folder is 0700 and its files 0600,
// also when the folder existed with wider modes.
func TestStoreFolderPrivate(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	if err := os.MkdirAll(filepath.Join(data, "mqtls.store"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(data, 0o755); err != nil {
		t.Fatal(err)
	}
	b, addr, p := rawBroker(t, dir, "allow_anonymous true\npersistence true\npersistence_location data\n")
	pub := mustDial(t, addr, connectPacket(5, "mode-pub", true, 300))
	r := publishPacket("mode/t", []byte("x"), 1, 1)
	r.FixedHeader.Retain = true
	mustSend(t, pub, r)
	mustRead(t, pub, packets.Puback)
	b.Kill()
	b = restartBroker(t, b, p)
	_ = b
	check := func() {
		err := filepath.Walk(filepath.Join(data, "mqtls.store"), func(path string, fi os.FileInfo, err error) error {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // pebble removed an old log meanwhile
			}
			if err != nil {
				return err
			}
			want := os.FileMode(0o600)
			if fi.IsDir() {
				want = 0o700
			}
			if fi.Mode().Perm() != want {
				t.Errorf("%s: mode %v, want %v", strings.TrimPrefix(path, dir), fi.Mode().Perm(), want)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check()
	sub := mustDial(t, addr, connectPacket(5, "mode-sub", true, 0))
	mustSubscribe(t, sub, "mode/#", 1)
	if m := mustRead(t, sub, packets.Publish); string(m.Payload) != "x" {
		t.Errorf("retained after restart: %q", m.Payload)
	}
	check()
}
