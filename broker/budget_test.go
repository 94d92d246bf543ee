package broker_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// deviceDynsec is a dynamic security file with one certificate client,
// DSN000001, whose role lets it use devices/%u/# only.
const deviceDynsec = `{
	"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	"clients": [{"username": "DSN000001", "roles": [{"rolename": "device"}]},
		{"username": "DSN000002", "roles": [{"rolename": "device"}]}],
	"roles": [{"rolename": "device", "acls": [
		{"acltype": "publishClientSend", "topic": "devices/%u/#", "allow": true},
		{"acltype": "publishClientReceive", "topic": "devices/%u/#", "allow": true},
		{"acltype": "subscribePattern", "topic": "devices/%u/#", "allow": true}]}]
}`

// budgetEnv is an mTLS broker process with dynamic security and the
// inspector, for the resource budget tests.
type budgetEnv struct {
	dir    string
	port   int
	broker *brokerProc
	roots  *x509.CertPool
}

func startBudget(t *testing.T, extra string) *budgetEnv {
	t.Helper()
	dir := t.TempDir()
	ca := newTestCA(t, dir, "Budget")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	ca.leaf("dev1", leafOpts{cn: "DSN000001"})
	ca.leaf("dev2", leafOpts{cn: "DSN000002"})
	if err := writeFile(filepath.Join(dir, "dynsec.json"), deviceDynsec); err != nil {
		t.Fatal(err)
	}
	p, insp := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf(`per_listener_settings false
plugin %s
plugin_opt_config_file dynsec.json
inspector 127.0.0.1:%d
listener %d 127.0.0.1
cafile chain.pem
certfile server.crt
keyfile server.key
require_certificate true
use_identity_as_username true
%s`, dynsecPlugin, insp, p, extra)
	e := &budgetEnv{dir: dir, port: p, roots: x509.NewCertPool()}
	e.broker = startBroker(t, dir, conf, p)
	pemData, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	for len(pemData) > 0 {
		var blk *pem.Block
		if blk, pemData = pem.Decode(pemData); blk == nil {
			break
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		e.roots.AddCert(c)
	}
	return e
}

// mtlsRaw is an MQTT 3.1.1 connection over mTLS that writes packets as
// they are, so that a test can send what no well-behaved library would.
type mtlsRaw struct {
	t *testing.T
	c *tls.Conn
	r *bufio.Reader
	w *bufio.Writer
}

func (e *budgetEnv) dial(t *testing.T, cert, id string) *mtlsRaw {
	t.Helper()
	kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, cert+".crt"), filepath.Join(e.dir, cert+".key"))
	if err != nil {
		t.Fatal(err)
	}
	c, err := tls.Dial("tcp", testutil.Addr(e.port), &tls.Config{RootCAs: e.roots, ServerName: "localhost", Certificates: []tls.Certificate{kp}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	rc := &mtlsRaw{t: t, c: c, r: bufio.NewReader(c), w: bufio.NewWriterSize(c, 64<<10)}
	rc.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}, ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 60, ClientIdentifier: id}})
	rc.flush()
	if typ, body := rc.read(10 * time.Second); typ != packets.Connack || len(body) < 2 || body[1] != 0 {
		t.Fatalf("CONNACK: type %d body %v", typ, body)
	}
	return rc
}

func (rc *mtlsRaw) send(pk packets.Packet) {
	rc.t.Helper()
	var buf bytes.Buffer
	var err error
	switch pk.FixedHeader.Type {
	case packets.Connect:
		err = pk.ConnectEncode(&buf)
	case packets.Publish:
		err = pk.PublishEncode(&buf)
	case packets.Subscribe:
		err = pk.SubscribeEncode(&buf)
	case packets.Disconnect:
		err = pk.DisconnectEncode(&buf)
	default:
		rc.t.Fatalf("cannot encode packet type %d", pk.FixedHeader.Type)
	}
	if err != nil {
		rc.t.Fatal(err)
	}
	if _, err := rc.w.Write(buf.Bytes()); err != nil {
		rc.t.Fatal(err)
	}
}

func (rc *mtlsRaw) flush() {
	rc.t.Helper()
	if err := rc.w.Flush(); err != nil {
		rc.t.Fatal(err)
	}
}

// read returns the next packet's type and body; type 0 when the broker
// closed the connection or nothing came within d.
func (rc *mtlsRaw) read(d time.Duration) (byte, []byte) {
	_ = rc.c.SetReadDeadline(time.Now().Add(d))
	h, err := rc.r.ReadByte()
	if err != nil {
		return 0, nil
	}
	n, mul := 0, 1
	for {
		b, err := rc.r.ReadByte()
		if err != nil {
			return 0, nil
		}
		n += int(b&0x7f) * mul
		mul *= 128
		if b&0x80 == 0 {
			break
		}
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(rc.r, body); err != nil {
		return 0, nil
	}
	return h >> 4, body
}

// freeAndMeasure asks the broker process to return freed memory to the
// system (SIGUSR2: the Go runtime's debug.FreeOSMemory, see the broker's
// signal handling) and reads its resident size in MiB once it settles.
func freeAndMeasure(t *testing.T, b *brokerProc) int {
	t.Helper()
	n := strings.Count(b.Stderr(), "Freed memory")
	if err := b.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the broker's Freed memory line", func() bool {
		return strings.Count(b.Stderr(), "Freed memory") > n
	})
	return vmRSS(t, b.Cmd.Process.Pid) >> 10
}

// TestDeviceCannotExhaustMemory: one device certificate with the role
// devices/%u/# publishes QoS 0 to 40,000 distinct 32 KB topic names, half
// of them outside its subtree (denied). The broker's resident memory stays
// under 300 MB meanwhile, and returns near the baseline once the client is
// gone and the broker has been asked to free memory.
func TestDeviceCannotExhaustMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("sends 1.3 GB")
	}
	e := startBudget(t, "")
	pid := e.broker.Cmd.Process.Pid
	cl := e.dial(t, "dev1", "dev1")
	// The baseline is taken with the client connected, so that it counts
	// the connection's own buffers.
	base := freeAndMeasure(t, e.broker)
	pad := strings.Repeat("x", 32<<10)
	peak := 0
	for i := range 40_000 {
		prefix := "devices/DSN000001/"
		if i%2 == 1 {
			prefix = "other/"
		}
		cl.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
			TopicName: fmt.Sprintf("%s%d/%s", prefix, i, pad), Payload: []byte("1")})
		if i%1000 == 999 {
			cl.flush()
			peak = max(peak, vmRSS(t, pid)>>10)
		}
	}
	cl.flush()
	// A PINGREQ answered means the broker read everything before it.
	if _, err := cl.c.Write([]byte{0xc0, 0}); err != nil {
		t.Fatal(err)
	}
	if typ, _ := cl.read(60 * time.Second); typ != packets.Pingresp {
		t.Fatalf("no PINGRESP after the publishes (type %d)", typ)
	}
	peak = max(peak, vmRSS(t, pid)>>10)
	cl.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}})
	cl.flush()
	e.broker.waitLog(t, "Client dev1 disconnected")
	after := freeAndMeasure(t, e.broker)
	t.Logf("resident memory: baseline %d MiB, peak %d MiB, after the client left %d MiB", base, peak, after)
	if peak >= 300 {
		t.Errorf("peak resident memory %d MiB, want under 300", peak)
	}
	// The inspector keeps the topics it saw, within inspector_max_bytes
	// (64 MiB of heap by default, every byte it holds counted); on top of
	// that the Go runtime keeps partly used spans of what was freed, so the
	// resident set may pass the bound by a little, never by a leak's worth.
	const inspectorBound, runtimeSlack = 64, 16
	if after > base+inspectorBound+runtimeSlack {
		t.Errorf("after the client left: %d MiB, baseline %d MiB: want within %d MiB of it (the inspector's %d MiB bound and %d MiB of runtime slack)",
			after, base, inspectorBound+runtimeSlack, inspectorBound, runtimeSlack)
	}
}

func subscribePacket(id uint16, filters ...string) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f})
	}
	return pk
}

// TestDeepFilterRefused: a SUBSCRIBE whose 64 KiB filter has 65,520 levels ends
// its client's connection at once (Mosquitto's limit is 200 levels), while
// another client's SUBSCRIBE is answered meanwhile; 200 levels still work.
// A PUBLISH of 201 levels, and a SUBSCRIBE over max_subscriptions, end the
// connection too.
func TestDeepFilterRefused(t *testing.T) {
	e := startBudget(t, "max_subscriptions 3\n")
	attacker := e.dial(t, "dev1", "deep")
	other := e.dial(t, "dev2", "other")

	deep := "devices/DSN000001" + strings.Repeat("/", 65535-len("devices/DSN000001"))
	attacker.send(subscribePacket(1, deep))
	attacker.flush()
	other.send(subscribePacket(1, "devices/DSN000002/#"))
	other.flush()
	// Generous bounds: without the limit the SUBSCRIBE took about 14 s of
	// CPU and held every other client's SUBSCRIBE that long.
	if typ, body := other.read(5 * time.Second); typ != packets.Suback || len(body) != 3 || body[2] != 0 {
		t.Errorf("the other client's SUBSCRIBE: type %d body %v, want a SUBACK granting QoS 0", typ, body)
	}
	if typ, _ := attacker.read(5 * time.Second); typ != 0 {
		t.Errorf("65,535-level filter: got packet type %d, want the connection closed", typ)
	}
	e.broker.waitLog(t, fmt.Sprintf("Client deep disconnected: filter of %d levels is over the limit of 200.", strings.Count(deep, "/")+1))

	ok := "devices/DSN000002" + strings.Repeat("/a", 199-1)
	other.send(subscribePacket(2, ok))
	other.flush()
	if typ, body := other.read(5 * time.Second); typ != packets.Suback || len(body) != 3 || body[2] != 0 {
		t.Errorf("200-level filter: type %d body %v, want a SUBACK granting QoS 0", typ, body)
	}
	other.send(subscribePacket(3, "devices/DSN000002/x", "devices/DSN000002/y"))
	other.flush()
	if typ, _ := other.read(5 * time.Second); typ != 0 {
		t.Errorf("a 4th subscription with max_subscriptions 3: got packet type %d, want the connection closed", typ)
	}
	e.broker.waitLog(t, "Client other disconnected: 4 subscriptions would be over max_subscriptions 3.")

	pub := e.dial(t, "dev1", "deep-pub")
	pub.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName: "devices/DSN000001" + strings.Repeat("/a", 200-1), Payload: []byte("1")})
	pub.flush()
	if typ, _ := pub.read(5 * time.Second); typ != 0 {
		t.Errorf("201-level PUBLISH: got packet type %d, want the connection closed", typ)
	}
	e.broker.waitLog(t, "Client deep-pub disconnected: topic of 201 levels is over the limit of 200.")
}
