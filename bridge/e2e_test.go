package bridge_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"mqtls/internal/testutil"
)

// pki makes a CA, a server certificate for 127.0.0.1 and the bridge's
// client certificate edge01 with the real commands, in dir/pki.
func pki(t *testing.T, dir string) {
	t.Helper()
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure", "--pki", "pki"},
		{"cert", "server", "--host", "localhost", "--ip", "127.0.0.1", "--pki", "pki"},
		{"cert", "client", "edge01", "--pki", "pki"},
	} {
		if out, code := testutil.Run(t, dir, time.Minute, testutil.Mqtls(t), args...); code != 0 {
			t.Fatalf("mqtls %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

// upstream is a real Mosquitto: port serves mutual TLS with our
// certificates (the CN is the username), plain serves the test's clients.
type upstream struct {
	t           *testing.T
	dir, conf   string
	port, plain int
	p           *testutil.Proc
}

func startUpstream(t *testing.T, dir string) *upstream {
	u := &upstream{t: t, dir: dir, port: testutil.FreePort(t), plain: testutil.FreePort(t)}
	pk := filepath.Join(dir, "pki")
	u.conf = fmt.Sprintf(`per_listener_settings true
persistence true
persistence_location %s/
listener %d 127.0.0.1
cafile %s/chain.pem
certfile %s/issued/server.crt
keyfile %s/issued/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
listener %d 127.0.0.1
allow_anonymous true
`, dir, u.port, pk, pk, pk, u.plain)
	u.start()
	return u
}

func (u *upstream) start() {
	u.p = testutil.Mosquitto(u.t, u.plain, u.conf)
	testutil.WaitPort(u.t, u.p, testutil.Addr(u.port))
}

// stop ends Mosquitto with SIGTERM, so that it saves its sessions.
func (u *upstream) stop() {
	_ = u.p.Signal(syscall.SIGTERM)
	u.p.Wait(u.t, 20*time.Second)
}

// local is an mqtls broker started as a real process.
type local struct {
	t    *testing.T
	dir  string
	port int
	p    *testutil.Proc
}

func startLocal(t *testing.T, dir string, port int, conf string) *local {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	l := &local{t: t, dir: dir, port: port}
	l.start()
	return l
}

func (l *local) start() {
	l.p = testutil.Start(l.t, l.dir, testutil.Mqtls(l.t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(l.t, l.p, testutil.Addr(l.port))
}

func (l *local) stop() {
	_ = l.p.Signal(syscall.SIGTERM)
	l.p.Wait(l.t, 20*time.Second)
}

// client is a test client that records what it receives, in order.
type client struct {
	t   *testing.T
	c   paho.Client
	got chan string
}

func connect(t *testing.T, port int, id string, clean bool) *client {
	t.Helper()
	cl := &client{t: t, got: make(chan string, 1000)}
	o := paho.NewClientOptions().AddBroker("tcp://" + testutil.Addr(port)).SetClientID(id).SetCleanSession(clean).
		SetAutoReconnect(false).SetConnectTimeout(5 * time.Second).SetOrderMatters(true)
	o.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { cl.got <- m.Topic() + " " + string(m.Payload()) })
	cl.c = paho.NewClient(o)
	if tok := cl.c.Connect(); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		t.Fatalf("connect %s to %d: %v", id, port, tok.Error())
	}
	t.Cleanup(func() { cl.c.Disconnect(0) })
	return cl
}

func (cl *client) sub(filters ...string) {
	cl.t.Helper()
	m := map[string]byte{}
	for _, f := range filters {
		m[f] = 1
	}
	if tok := cl.c.SubscribeMultiple(m, nil); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		cl.t.Fatalf("subscribe %v: %v", filters, tok.Error())
	}
}

func (cl *client) pub(topic, payload string, retain bool) {
	cl.t.Helper()
	if tok := cl.c.Publish(topic, 1, retain, payload); !tok.WaitTimeout(10*time.Second) || tok.Error() != nil {
		cl.t.Fatalf("publish %s: %v", topic, tok.Error())
	}
}

// expect waits for the next messages, which must be want, in order.
func (cl *client) expect(want ...string) {
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

// bridgeConf is the local broker's config: a bridge to the upstream's
// mutual TLS port as edge01.
func bridgeConf(dir string, port, up int, extra string) string {
	pk := filepath.Join(dir, "pki")
	return fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
persistence true
persistence_location %s
connection cloud
address 127.0.0.1:%d
remote_clientid edge01
bridge_cafile %s/root.crt
bridge_certfile %s/issued/edge01.crt
bridge_keyfile %s/issued/edge01.key
restart_timeout 1
%s`, port, dir, up, pk, pk, pk, extra)
}

const stateTopic = "$SYS/broker/connection/edge01/state"

// TestBridgeMosquitto: an mqtls broker bridges to a real Mosquitto over
// mutual TLS with an mqtls client certificate: out, in and both
// directions, prefixes, retained messages, no echo, the notifications on
// both brokers, and messages published while Mosquitto is stopped (and
// mqtls restarted) delivered in order once it is back.
func TestBridgeMosquitto(t *testing.T) {
	testutil.Need(t, "mosquitto")
	dir := t.TempDir()
	pki(t, dir)
	up := startUpstream(t, dir)
	lport := testutil.FreePort(t)
	lb := startLocal(t, dir, lport, bridgeConf(dir, lport, up.port, `topic up/# out 1
topic down/# in 1
topic both/# both 1
topic # out 1 l/ r/
topic # in 1 lin/ rin/
`))

	remote := connect(t, up.plain, "judge-remote", true)
	remote.sub(stateTopic)
	remote.expect(stateTopic + " 1")
	loc := connect(t, lport, "judge-local", true)
	loc.sub(stateTopic)
	loc.expect(stateTopic + " 1")

	remote.sub("up/#", "r/#", "both/#", "lin/#", "down/#")
	loc.sub("down/#", "lin/#", "both/#", "r/#", "up/#")

	t.Run("out", func(t *testing.T) {
		loc.pub("up/a", "1", false)
		loc.expect("up/a 1")
		remote.expect("up/a 1")
		loc.pub("l/x/y", "2", false)
		remote.expect("r/x/y 2")
	})
	t.Run("in", func(t *testing.T) {
		remote.pub("down/b", "3", false)
		remote.expect("down/b 3")
		loc.expect("down/b 3")
		remote.pub("rin/z", "4", false)
		loc.expect("lin/z 4")
	})
	t.Run("both without echo", func(t *testing.T) {
		loc.pub("both/1", "a", false)
		loc.expect("both/1 a")
		remote.expect("both/1 a")
		remote.pub("both/2", "b", false)
		remote.expect("both/2 b")
		loc.expect("both/2 b")
		// An echo would come on the connection each marker takes, before it.
		remote.pub("both/mu", "c", false)
		remote.expect("both/mu c")
		loc.expect("both/mu c")
		loc.pub("both/ml", "d", false)
		loc.expect("both/ml d")
		remote.expect("both/ml d")
	})
	t.Run("retained", func(t *testing.T) {
		loc.pub("up/kept", "r", true)
		loc.expect("up/kept r")
		remote.expect("up/kept r")
		late := connect(t, up.plain, "judge-late", true)
		late.sub("up/kept")
		late.expect("up/kept r")
	})

	t.Run("store and forward", func(t *testing.T) {
		// A persistent subscriber on the upstream, away while it is down.
		j := connect(t, up.plain, "judge-away", false)
		j.sub("up/sf/#")
		j.c.Disconnect(0)
		remote.c.Disconnect(0)
		up.stop()
		loc.expect(stateTopic + " 0")
		for i := 1; i <= 3; i++ {
			loc.pub(fmt.Sprintf("up/sf/%d", i), "x", false)
			loc.expect(fmt.Sprintf("up/sf/%d x", i))
		}
		// The queue is durable: the local broker restarts in between.
		loc.c.Disconnect(0)
		lb.stop()
		lb.start()
		loc = connect(t, lport, "judge-local2", true)
		for i := 4; i <= 5; i++ {
			loc.pub(fmt.Sprintf("up/sf/%d", i), "x", false)
		}
		up.start()
		j = connect(t, up.plain, "judge-away", false)
		for i := 1; i <= 5; i++ {
			j.expect(fmt.Sprintf("up/sf/%d x", i))
		}
	})
}

// TestBridgeLoop: two mqtls brokers, A bridging "loop/#" both ways to B:
// each message published on either reaches each subscriber once.
func TestBridgeLoop(t *testing.T) {
	da, db := t.TempDir(), t.TempDir()
	pa, pb := testutil.FreePort(t), testutil.FreePort(t)
	startLocal(t, db, pb, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", pb))
	startLocal(t, da, pa, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
connection b
address 127.0.0.1:%d
remote_clientid a-to-b
restart_timeout 1
topic loop/# both 1
`, pa, pb))
	sa, sb := connect(t, pa, "sub-a", true), connect(t, pb, "sub-b", true)
	sa.sub("$SYS/broker/connection/a-to-b/state")
	sa.expect("$SYS/broker/connection/a-to-b/state 1")
	sa.sub("loop/#")
	sb.sub("loop/#")
	sa.pub("loop/a", "1", false)
	sa.expect("loop/a 1")
	sb.expect("loop/a 1")
	sb.pub("loop/b", "2", false)
	sb.expect("loop/b 2")
	sa.expect("loop/b 2")
	sb.pub("loop/mb", "3", false)
	sb.expect("loop/mb 3")
	sa.expect("loop/mb 3")
	sa.pub("loop/ma", "4", false)
	sa.expect("loop/ma 4")
	sb.expect("loop/ma 4")
}

// TestBridgeBadFiles: a bridge whose certificate cannot be read stops the
// broker at start with the connection's file and line.
func TestBridgeBadFiles(t *testing.T) {
	dir := t.TempDir()
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\n\nconnection cloud\naddress 127.0.0.1:1\ntopic # out\nbridge_cafile missing-ca.pem\n", port)
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := testutil.Run(t, dir, 30*time.Second, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	if code == 0 || !strings.Contains(out, "mqtls.conf:3: connection cloud: ") || !strings.Contains(out, "missing-ca.pem") {
		t.Errorf("exit %d:\n%s", code, out)
	}
}

// TestBridgeFailover: with the main address down the bridge connects to
// the second one, and moves back to the main one once it answers
// (round_robin false).
func TestBridgeFailover(t *testing.T) {
	d1, d2, da := t.TempDir(), t.TempDir(), t.TempDir()
	p1, p2, pa := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	plain := "listener %d 127.0.0.1\nallow_anonymous true\n"
	startLocal(t, d2, p2, fmt.Sprintf(plain, p2))
	startLocal(t, da, pa, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
connection b
address 127.0.0.1:%d 127.0.0.1:%d
remote_clientid a
restart_timeout 1
topic x/# out 1
`, pa, p1, p2))
	const state = "$SYS/broker/connection/a/state"
	s2 := connect(t, p2, "sub-2", true)
	s2.sub(state)
	s2.expect(state + " 1")
	startLocal(t, d1, p1, fmt.Sprintf(plain, p1))
	s1 := connect(t, p1, "sub-1", true)
	s1.sub(state, "x/#")
	s1.expect(state + " 1")
	s2.expect(state + " 0")
	connect(t, pa, "pub-a", true).pub("x/1", "m", false)
	s1.expect("x/1 m")
}

// TestBridgeInspector: the inspector's clients API and /metrics show the
// bridge's state, counters and queue, also while the remote is down.
func TestBridgeInspector(t *testing.T) {
	da, db := t.TempDir(), t.TempDir()
	pa, pb, web := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	b := startLocal(t, db, pb, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", pb))
	startLocal(t, da, pa, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
inspector 127.0.0.1:%d
metrics true
connection b
address 127.0.0.1:%d
remote_clientid a
restart_timeout 1
topic x/# out 1
`, pa, web, pb))
	sb := connect(t, pb, "sub-b", true)
	sb.sub("$SYS/broker/connection/a/state", "x/#")
	sb.expect("$SYS/broker/connection/a/state 1")
	sa := connect(t, pa, "pub-a", true)
	sa.sub("$SYS/broker/connection/a/state")
	sa.expect("$SYS/broker/connection/a/state 1")
	for i := range 3 {
		sa.pub(fmt.Sprintf("x/%d", i), "m", false)
		sb.expect(fmt.Sprintf("x/%d m", i))
	}
	base := "http://" + testutil.Addr(web)
	testutil.WaitFor(t, 10*time.Second, "the sent count in /metrics", func() bool {
		m := get(t, base+"/metrics")
		return strings.Contains(m, `mqtls_bridge_connected{bridge="b"} 1`) && strings.Contains(m, `mqtls_bridge_messages_total{bridge="b",direction="out"} 3`)
	})
	var api struct {
		Bridges []struct {
			Name, State, Address string
			Queued               int
			Sent, Received       uint64
			SentRate             float64
		}
	}
	if err := json.Unmarshal([]byte(get(t, base+"/api/clients")), &api); err != nil {
		t.Fatal(err)
	}
	if len(api.Bridges) != 1 || api.Bridges[0].Name != "b" || api.Bridges[0].State != "connected" || api.Bridges[0].Sent != 3 ||
		api.Bridges[0].Address != testutil.Addr(pb) {
		t.Errorf("bridges = %+v", api.Bridges)
	}

	b.stop()
	sa.expect("$SYS/broker/connection/a/state 0")
	sa.pub("x/q1", "m", false)
	sa.pub("x/q2", "m", false)
	testutil.WaitFor(t, 10*time.Second, "the queue in /metrics", func() bool {
		m := get(t, base+"/metrics")
		return strings.Contains(m, `mqtls_bridge_connected{bridge="b"} 0`) && strings.Contains(m, `mqtls_bridge_queued_messages{bridge="b"} 2`)
	})
	if err := json.Unmarshal([]byte(get(t, base+"/api/clients")), &api); err != nil {
		t.Fatal(err)
	}
	if len(api.Bridges) != 1 || api.Bridges[0].State == "connected" || api.Bridges[0].Queued != 2 {
		t.Errorf("bridges while the remote is down = %+v", api.Bridges)
	}
}

func get(t *testing.T, url string) string {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	r, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("GET %s: %d %v", url, r.StatusCode, err)
	}
	return string(b)
}

// TestBridgeOptions: remote_username with remote_password_file (the
// password in no log line, at log_type all), bridge_insecure (the chain is
// verified, the host name is not; without it the same server is refused),
// notification_topic, bridge_max_packet_size, bridge_outgoing_retain false
// and start_type once.
func TestBridgeOptions(t *testing.T) {
	testutil.Need(t, "mosquitto", "mosquitto_passwd")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure", "--pki", "pki"},
		{"cert", "server", "--host", "other.example", "--pki", "pki"},
	} {
		if out, code := testutil.Run(t, dir, time.Minute, testutil.Mqtls(t), args...); code != 0 {
			t.Fatalf("mqtls %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	const secret = "br1dge-S3cret"
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", "passwd", "edge", secret); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pk := filepath.Join(dir, "pki")
	tlsPort, plain, dead := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	testutil.Mosquitto(t, plain, fmt.Sprintf(`per_listener_settings true
listener %d 127.0.0.1
certfile %s/issued/server.crt
keyfile %s/issued/server.key
password_file %s/passwd
allow_anonymous false
listener %d 127.0.0.1
allow_anonymous true
`, tlsPort, pk, pk, dir, plain))
	lport := testutil.FreePort(t)
	tlsBridge := fmt.Sprintf("address 127.0.0.1:%d\nbridge_cafile %s/root.crt\nrestart_timeout 1\ntopic t/# out 1\n", tlsPort, pk)
	lb := startLocal(t, dir, lport, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
log_type all
connection edge
remote_clientid edge
remote_username edge
remote_password_file pw
bridge_insecure true
notification_topic bridges/edge/state
bridge_max_packet_size 200
bridge_outgoing_retain false
%s
connection strict
remote_clientid strict
remote_username edge
remote_password_file pw
%s
connection once
address 127.0.0.1:%d
start_type once
topic o/# out
`, lport, tlsBridge, tlsBridge, dead))

	up := connect(t, plain, "judge", true)
	up.sub("bridges/edge/state", "t/#")
	up.expect("bridges/edge/state 1")
	loc := connect(t, lport, "pub", true)
	loc.pub("t/kept", "r", true)
	up.expect("t/kept r")
	loc.pub("t/big", strings.Repeat("x", 300), false)
	loc.pub("t/after", "a", false)
	up.expect("t/after a") // t/big was not sent
	late := connect(t, plain, "late", true)
	late.sub("t/#")
	loc.pub("t/after2", "b", false)
	late.expect("t/after2 b") // t/kept went out without its retain flag

	testutil.WaitFor(t, 10*time.Second, "the strict bridge's refusal and the once bridge's stop", func() bool {
		s := lb.p.Stderr()
		return strings.Contains(s, "Bridge strict: connection to 127.0.0.1:") && strings.Contains(s, "cannot validate certificate for 127.0.0.1") &&
			strings.Contains(s, "Bridge once stopped (start_type once).")
	})
	if strings.Contains(lb.p.Stderr(), secret) {
		t.Error("the remote password is in the log")
	}
}

// TestBridgeRoundRobin: two bridges to the same two upstreams, one with
// round_robin true and one without. With the first upstream stopped both
// move to the second; once the first is back, the failover bridge returns
// to it and the round-robin one stays where it works.
func TestBridgeRoundRobin(t *testing.T) {
	d1, d2, da := t.TempDir(), t.TempDir(), t.TempDir()
	p1, p2, pa := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	plain := "listener %d 127.0.0.1\nallow_anonymous true\n"
	b1 := startLocal(t, d1, p1, fmt.Sprintf(plain, p1))
	startLocal(t, d2, p2, fmt.Sprintf(plain, p2))
	bridges := ""
	for _, b := range []struct{ name, rr string }{{"rr", "true"}, {"fo", "false"}} {
		bridges += fmt.Sprintf("connection %s\naddress 127.0.0.1:%d 127.0.0.1:%d\nround_robin %s\nremote_clientid %s\nrestart_timeout 1\ntopic %s/# out 1\n",
			b.name, p1, p2, b.rr, b.name, b.name)
	}
	startLocal(t, da, pa, fmt.Sprintf(plain, pa)+bridges)
	const rr, fo = "$SYS/broker/connection/rr/state", "$SYS/broker/connection/fo/state"
	s1 := connect(t, p1, "sub-1", true)
	s1.sub(rr)
	s1.expect(rr + " 1")
	s1.sub(fo)
	s1.expect(fo + " 1")
	s1.c.Disconnect(0)

	b1.stop()
	s2 := connect(t, p2, "sub-2", true)
	s2.sub(rr)
	s2.expect(rr + " 1")
	s2.sub(fo)
	s2.expect(fo + " 1")
	s2.sub("rr/#", "fo/#")

	b1.start()
	s1 = connect(t, p1, "sub-1b", true)
	s1.sub(fo)
	s1.expect(fo + " 1")   // the failover bridge is back on the main address
	s2.expect(fo + " 0")   // and has left the second one
	s1.sub("rr/#", "fo/#") // by now the round-robin one had as long to move
	pub := connect(t, pa, "pub-a", true)
	pub.pub("rr/1", "m", false)
	pub.pub("fo/1", "m", false)
	s2.expect("rr/1 m")
	s1.expect("fo/1 m")
}

// TestBridgeLazy: start_type lazy connects at start (as Mosquitto 2.0
// does), disconnects after idle_timeout seconds without a message, stays
// away while fewer than threshold messages are queued, then connects and
// delivers them in order.
func TestBridgeLazy(t *testing.T) {
	da, db := t.TempDir(), t.TempDir()
	pa, pb, web := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	startLocal(t, db, pb, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", pb))
	sb := connect(t, pb, "sub-b", true)
	const state = "$SYS/broker/connection/a/state"
	sb.sub(state, "x/#")
	startLocal(t, da, pa, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous true
inspector 127.0.0.1:%d
metrics true
connection b
address 127.0.0.1:%d
remote_clientid a
start_type lazy
idle_timeout 2
threshold 3
topic x/# out 1
`, pa, web, pb))
	sb.expect(state+" 1", state+" 0")
	sa := connect(t, pa, "pub-a", true)
	sa.pub("x/1", "m", false)
	sa.pub("x/2", "m", false)
	testutil.WaitFor(t, 10*time.Second, "two messages queued while the lazy bridge is away", func() bool {
		m := get(t, "http://"+testutil.Addr(web)+"/metrics")
		return strings.Contains(m, `mqtls_bridge_connected{bridge="b"} 0`) && strings.Contains(m, `mqtls_bridge_queued_messages{bridge="b"} 2`)
	})
	sa.pub("x/3", "m", false)
	sb.expect(state+" 1", "x/1 m", "x/2 m", "x/3 m", state+" 0")
}
