package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// hotPath is one QoS 1 message through the broker's own hooks, in the
// order mochi calls them, from publisher dev1 to subscriber dev2: what
// every message costs in our code on top of mochi's.
type hotPath struct {
	br       *Broker
	pub, sub *mqtt.Client
	limits   *limitsHook
	mount    *mountHook
	auth     *authHook
	bridge   *bridgeClientHook
	fidelity *fidelityHook
	ids      *packetIDHook
	opts     *clientOptsHook
	back     *backpressureHook
	queue    *queueHook
	in       *inboundHook
	pc       *pubConn
	publish  packets.Packet
	puback   packets.Packet
}

func newHotPath(t testing.TB, security string) *hotPath {
	br, cfg := unstartedBrokerConf(t, fmt.Appendf(nil, "listener 1 127.0.0.1\n%s\n", security))
	client := func(id string) *mqtt.Client {
		cl := br.server.NewClient(nil, "127.0.0.1:1", id, false)
		cl.Properties.Username = []byte(id)
		cl.Properties.ProtocolVersion = 4
		return cl
	}
	p := &hotPath{
		br: br, pub: client("dev1"), sub: client("dev2"),
		limits: newLimitsHook(br), mount: &mountHook{b: br}, auth: &authHook{b: br}, bridge: &bridgeClientHook{},
		fidelity: newFidelityHook(cfg, br.server), ids: &packetIDHook{},
		opts: &clientOptsHook{b: br}, back: newBackpressureHook(br.server), queue: br.queue,
		in: &inboundHook{b: br, st: br.storeHook},
	}
	p.ids.Init(nil)
	if err := p.auth.Init(nil); err != nil {
		t.Fatal(err)
	}
	p.pc = p.in.conn(p.pub)
	p.publish = packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1}, PacketID: 7,
		TopicName: "devices/dev1/temp", Payload: []byte("21.5")}
	p.puback = packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: 9}
	// mochi's in-flight entry of the delivery (mochi sets it before
	// OnQosPublish and deletes it after OnPacketRead; both allocate in
	// mochi, so the test leaves it in place).
	out := p.publish
	out.Origin, out.PacketID = p.pub.ID, 9
	p.sub.State.Inflight.Set(out)
	return p
}

// message runs one message through the hooks; it fails t when a hook
// refuses what it should let through.
func (p *hotPath) message(t testing.TB) {
	pk := p.publish
	var err error
	// publisher's read loop
	if pk, err = p.limits.OnPacketRead(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if pk, err = p.mount.OnPacketRead(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if pk, err = p.bridge.OnPacketRead(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if pk, err = p.fidelity.OnPacketRead(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if pk, err = p.ids.OnPacketRead(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if _, err = p.opts.OnPublish(p.pub, pk); err != nil {
		t.Fatal(err)
	}
	if _, _, deliver := p.in.judge(p.pub, &pk); !deliver {
		t.Fatal("publish refused")
	}
	// delivery to the subscriber, inside the publish's Tx
	st := p.br.storeHook
	tx := st.BeginPublish(p.pub.ID)
	out := pk
	out.Origin, out.PacketID = p.pub.ID, 9
	if !p.auth.OnACLCheck(p.sub, out.TopicName, false) {
		t.Fatal("delivery refused")
	}
	st.OnQosPublish(p.sub, out, 0, 0)
	p.back.OnQosPublish(p.sub, out, 0, 0)
	p.queue.OnQosPublish(p.sub, out, 0, 0)
	seq := st.EndPublish(p.pub.ID, tx)
	st.OnPublished(p.pub, pk)
	p.queue.OnPublished(p.pub, pk)
	p.in.queue(p.pc, ackItem{seq: seq, typ: packets.Puback, id: pk.PacketID, release: true})
	// subscriber's write loop
	out = st.OnPacketEncode(p.sub, out)
	out = p.mount.OnPacketEncode(p.sub, out)
	out = p.fidelity.OnPacketEncode(p.sub, out)
	out = p.ids.OnPacketEncode(p.sub, out)
	st.OnPacketSent(p.sub, out, nil)
	// subscriber's PUBACK
	ack := p.puback
	if ack, err = p.fidelity.OnPacketRead(p.sub, ack); err != nil {
		t.Fatal(err)
	}
	if ack, err = st.OnPacketRead(p.sub, ack); err != nil {
		t.Fatal(err)
	}
	if ack, err = p.queue.OnPacketRead(p.sub, ack); err != nil {
		t.Fatal(err)
	}
	st.OnPacketProcessed(p.sub, ack, nil)
	p.back.OnQosComplete(p.sub, ack)
}

// TestHotPathAllocatesNothing guards the per-message path of our hooks:
// without persistence, a QoS 1 message from its PUBLISH to the
// subscriber's PUBACK allocates nothing in the broker's own code (the
// publish and delivery ACLs included), with no access control, an
// acl_file and dynamic security. mochi's own path allocates: see
// BENCHMARKS.md.
func TestHotPathAllocatesNothing(t *testing.T) {
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte("user dev1\ntopic readwrite devices/#\nuser dev2\ntopic readwrite devices/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Patterns are expanded on every check: a deny pattern is tried first.
	pattern := filepath.Join(dir, "acl-pattern")
	if err := os.WriteFile(pattern, []byte("pattern deny devices/%u/secret/%c\npattern write devices/%u/#\nuser dev2\ntopic read devices/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	ds := filepath.Join(dir, "dynsec.json")
	if err := os.WriteFile(ds, []byte(`{"clients": [{"username": "dev1", "roles": [{"rolename": "d"}]}, {"username": "dev2", "roles": [{"rolename": "d"}]}],
		"roles": [{"rolename": "d", "acls": [{"acltype": "publishClientSend", "topic": "devices/#", "allow": true},
		{"acltype": "publishClientReceive", "topic": "devices/#", "allow": true}]}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, sec string }{
		{"none", "allow_anonymous true"},
		{"acl_file", "acl_file " + acl},
		{"acl_file pattern", "acl_file " + pattern},
		{"dynsec", "plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file " + ds},
	} {
		t.Run(c.name, func(t *testing.T) {
			p := newHotPath(t, c.sec)
			p.message(t) // first use: per-client state is made once
			if n := testing.AllocsPerRun(1000, func() { p.message(t) }); n != 0 {
				t.Errorf("%v allocations per message in the broker's hooks, want 0", n)
			}
			if got := p.pc.outstanding.Load(); got != 0 {
				t.Errorf("%d publishes left outstanding: the PUBACKs were not written", got)
			}
		})
	}
}

// BenchmarkHotPath measures the same path: the time our hooks add to
// each QoS 1 message.
func BenchmarkHotPath(b *testing.B) {
	p := newHotPath(b, "allow_anonymous true")
	p.message(b)
	b.ReportAllocs()
	for b.Loop() {
		p.message(b)
	}
}

// TestAcknowledgerOnlyWhenWaiting: a client publishing at QoS 1 without
// persistence, whose acks never wait for a sync, gets no acknowledger
// goroutine and no queue (they were 800 KiB a client), and a queued ack
// is a few fields, not a packet.
func TestAcknowledgerOnlyWhenWaiting(t *testing.T) {
	p := newHotPath(t, "allow_anonymous true")
	p.message(t)
	if p.pc.acks != nil {
		t.Errorf("a queue of %d acks made for a client whose acks never wait", cap(p.pc.acks))
	}
	if n := unsafe.Sizeof(ackItem{}); n > 40 {
		t.Errorf("a queued ack is %d bytes, want at most 40 (a queue holds up to 1,032)", n)
	}
}
