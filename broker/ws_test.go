package broker_test

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// wsConnect opens an MQTT-over-WebSocket connection, sends CONNECT (3.1.1)
// and returns the CONNACK return code.
func wsConnect(t *testing.T, url string, tc *tls.Config, id string) (byte, error) {
	d := websocket.Dialer{TLSClientConfig: tc, Subprotocols: []string{"mqtt"}}
	c, _, err := d.Dial(url, nil)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	pk := packets.Packet{
		FixedHeader:     packets.FixedHeader{Type: packets.Connect},
		ProtocolVersion: 4,
		Connect: packets.ConnectParams{ProtocolName: []byte("MQTT"), Clean: true, Keepalive: 30,
			ClientIdentifier: id, UsernameFlag: true, Username: []byte("mallory"), PasswordFlag: true, Password: []byte("x")},
	}
	var buf bytes.Buffer
	if err := pk.ConnectEncode(&buf); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteMessage(websocket.BinaryMessage, buf.Bytes()); err != nil {
		return 0, err
	}
	_, msg, err := c.ReadMessage()
	if err != nil {
		return 0, err
	}
	if len(msg) != 4 || msg[0] != 0x20 {
		t.Fatalf("not a CONNACK: % x", msg)
	}
	return msg[3], nil
}

// TestWSSIdentity: a wss listener takes the certificate identity and the
// CRL exactly as a TLS listener does (Mosquitto checks no CRL on websockets).
func TestWSSIdentity(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "WS")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	ca.leaf("good", leafOpts{cn: "DSN000001"})
	ca.leaf("bad", leafOpts{cn: "DSN000002"})
	ca.revoke(readCert(t, filepath.Join(dir, "bad.crt")))
	os.WriteFile(filepath.Join(dir, "acl"), []byte("pattern readwrite devices/%u/#\n"), 0o600)
	p := testutil.FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
protocol websockets
cafile chain.pem
certfile server.crt
keyfile server.key
crlfile crl.pem
require_certificate true
use_identity_as_username true
acl_file acl
log_type all
`, p)
	b := startBroker(t, dir, conf, p)
	roots := x509.NewCertPool()
	roots.AddCert(ca.root)
	cfg := func(name string) *tls.Config {
		tc := &tls.Config{RootCAs: roots, ServerName: "localhost"}
		if name != "" {
			kp, err := tls.LoadX509KeyPair(filepath.Join(dir, name+".crt"), filepath.Join(dir, name+".key"))
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{kp}
		}
		return tc
	}
	url := fmt.Sprintf("wss://127.0.0.1:%d/", p)
	rc, err := wsConnect(t, url, cfg("good"), "wss-good")
	if err != nil || rc != 0 {
		t.Fatalf("good certificate: rc %d, %v", rc, err)
	}
	b.waitLog(t, "as wss-good (p2, c1, k30, u'DSN000001')")
	if _, err := wsConnect(t, url, cfg(""), "wss-none"); err == nil {
		t.Error("no client certificate: connected")
	}
	if _, err := wsConnect(t, url, cfg("bad"), "wss-revoked"); err == nil {
		t.Error("revoked certificate: connected")
	}
	b.waitLog(t, "is revoked")
}
