package bridge_test

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"

	"mqtls/internal/testutil"
)

// client5 is an MQTT 5 test client that records what it receives, in
// order, with the user property "k" and the content type.
type client5 struct {
	t   *testing.T
	c   *paho5.Client
	got chan string
}

func connect5(t *testing.T, port int, id string) *client5 {
	t.Helper()
	conn, err := net.Dial("tcp", testutil.Addr(port))
	if err != nil {
		t.Fatal(err)
	}
	cl := &client5{t: t, got: make(chan string, 1000)}
	cl.c = paho5.NewClient(paho5.ClientConfig{
		Conn: packets.NewThreadSafeConn(conn),
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(r paho5.PublishReceived) (bool, error) {
			s := r.Packet.Topic + " " + string(r.Packet.Payload)
			if p := r.Packet.Properties; p != nil && (p.User.Get("k") != "" || p.ContentType != "") {
				s += " k=" + p.User.Get("k") + " ct=" + p.ContentType
			}
			if r.Packet.Retain && !strings.HasPrefix(r.Packet.Topic, "$SYS/") { // a state may come live or retained
				s += " retained"
			}
			cl.got <- s
			return true, nil
		}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.c.Connect(ctx, &paho5.Connect{ClientID: id, CleanStart: true, KeepAlive: 30}); err != nil {
		t.Fatalf("connect %s to %d: %v", id, port, err)
	}
	t.Cleanup(func() { _ = cl.c.Disconnect(&paho5.Disconnect{}) })
	return cl
}

func (cl *client5) sub(filters ...string) {
	cl.t.Helper()
	s := &paho5.Subscribe{}
	for _, f := range filters {
		s.Subscriptions = append(s.Subscriptions, paho5.SubscribeOptions{Topic: f, QoS: 1})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.c.Subscribe(ctx, s); err != nil {
		cl.t.Fatalf("subscribe %v: %v", filters, err)
	}
}

func (cl *client5) pub(topic, payload string, retain bool, k, ct string) {
	cl.t.Helper()
	p := &paho5.Publish{Topic: topic, QoS: 1, Retain: retain, Payload: []byte(payload)}
	if k != "" || ct != "" {
		p.Properties = &paho5.PublishProperties{ContentType: ct}
		if k != "" {
			p.Properties.User = paho5.UserProperties{{Key: "k", Value: k}}
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := cl.c.Publish(ctx, p); err != nil {
		cl.t.Fatalf("publish %s: %v", topic, err)
	}
}

func (cl *client5) expect(want ...string) {
	cl.t.Helper()
	for _, w := range want {
		select {
		case g := <-cl.got:
			if g != w {
				cl.t.Fatalf("got %q, want %q", g, w)
			}
		case <-time.After(15 * time.Second):
			cl.t.Fatalf("no message, want %q", w)
		}
	}
}

// TestBridgeMosquittoV5: bridge_protocol_version mqttv50 to a real
// Mosquitto over mutual TLS: the bridge connects with MQTT 5 (Mosquitto
// logs p5), out, in and both directions with prefixes, no echo of a
// "both" topic, message properties kept both ways, retained messages
// kept as retained, and messages published while Mosquitto is stopped
// delivered in order once it is back.
func TestBridgeMosquittoV5(t *testing.T) {
	testutil.Need(t, "mosquitto")
	dir := t.TempDir()
	pki(t, dir)
	up := startUpstream(t, dir)
	lport := testutil.FreePort(t)
	startLocal(t, dir, lport, bridgeConf(dir, lport, up.port, `bridge_protocol_version mqttv50
topic up/# out 1
topic down/# in 1
topic both/# both 1
topic # out 1 l/ r/
`))
	remote := connect5(t, up.plain, "judge-remote")
	remote.sub(stateTopic)
	remote.expect(stateTopic + " 1")
	if s := up.p.Stderr(); !strings.Contains(s, "as edge01 (p5,") {
		t.Fatalf("the bridge did not connect with MQTT 5:\n%s", s)
	}
	loc := connect5(t, lport, "judge-local")
	loc.sub("down/#", "both/#", "up/#")
	remote.sub("up/#", "r/#", "both/#")

	loc.pub("up/a", "1", false, "v1", "text/plain")
	loc.expect("up/a 1 k=v1 ct=text/plain")
	remote.expect("up/a 1 k=v1 ct=text/plain")
	loc.pub("l/x", "2", false, "", "")
	remote.expect("r/x 2")

	remote.pub("down/b", "3", false, "v3", "application/json")
	loc.expect("down/b 3 k=v3 ct=application/json")

	loc.pub("both/1", "a", false, "", "")
	loc.expect("both/1 a")
	remote.expect("both/1 a")
	remote.pub("both/2", "b", false, "", "")
	remote.expect("both/2 b")
	loc.expect("both/2 b")
	// An echo would come on the connection each marker takes, before it.
	remote.pub("both/mu", "c", false, "", "")
	remote.expect("both/mu c")
	loc.expect("both/mu c")
	loc.pub("both/ml", "d", false, "", "")
	loc.expect("both/ml d")
	remote.expect("both/ml d")

	loc.pub("up/kept", "r", true, "", "")
	loc.expect("up/kept r")
	remote.expect("up/kept r")
	late := connect5(t, up.plain, "judge-late")
	late.sub("up/kept")
	late.expect("up/kept r retained")

	// Store and forward: a persistent subscriber (MQTT 3) on the upstream.
	j := connect(t, up.plain, "judge-away", false)
	j.sub("up/sf/#")
	j.c.Disconnect(0)
	_ = remote.c.Disconnect(&paho5.Disconnect{})
	_ = late.c.Disconnect(&paho5.Disconnect{})
	up.stop()
	loc.sub(stateTopic)
	loc.expect(stateTopic + " 0")
	for i := 1; i <= 3; i++ {
		loc.pub("up/sf/"+string(rune('0'+i)), "x", false, "", "")
		loc.expect("up/sf/" + string(rune('0'+i)) + " x")
	}
	up.start()
	j = connect(t, up.plain, "judge-away", false)
	j.expect("up/sf/1 x", "up/sf/2 x", "up/sf/3 x")
}
