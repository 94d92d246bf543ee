package broker_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// mtlsEnv is one broker with an mTLS listener (CN as username, CRL, an
// acl_file) shared by the tests of this file.
type mtlsEnv struct {
	dir    string
	ca     *testCA
	port   int
	broker *brokerProc
}

const mtlsACL = `# devices may use their own subtree and the test topics
pattern readwrite devices/%u/#
topic read nothing/here
user DSN000001
topic readwrite test/#
user DSN000002
topic readwrite test/#
`

func startMTLS(t *testing.T, dir string) *mtlsEnv {
	e := &mtlsEnv{dir: dir}
	e.ca = newTestCA(t, dir, "Test")
	return startMTLSWith(t, e)
}

// startMTLSWith starts the broker on e's folder and CA.
func startMTLSWith(t *testing.T, e *mtlsEnv) *mtlsEnv {
	dir := e.dir
	e.port = testutil.FreePort(t)
	e.ca.leaf("server", leafOpts{cn: "localhost", server: true})
	if err := os.WriteFile(filepath.Join(dir, "acl"), []byte(mtlsACL), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf(`listener %d 127.0.0.1
cafile chain.pem
certfile server.crt
keyfile server.key
crlfile crl.pem
tls_version tlsv1.2
require_certificate true
use_identity_as_username true
acl_file acl
log_type all
`, e.port)
	e.broker = startBroker(t, dir, conf, e.port)
	return e
}

// tlsArgs are the mosquitto client flags for a client certificate NAME.
func (e *mtlsEnv) tlsArgs(name string, more ...string) []string {
	args := []string{"-h", "127.0.0.1", "-p", port(e.port), "--cafile", "chain.pem"}
	if name != "" {
		args = append(args, "--cert", name+".crt", "--key", name+".key")
	}
	return append(args, more...)
}

func TestMTLSPubSubAndWill(t *testing.T) {
	testutil.Need(t, "mosquitto_sub", "mosquitto_pub")
	e := startMTLS(t, t.TempDir())
	e.ca.leaf("DSN000001", leafOpts{cn: "DSN000001"})
	e.ca.leaf("DSN000002", leafOpts{cn: "DSN000002"})

	// A subscriber (v5) waits for two messages: a normal one and the will.
	sub := testutil.Start(t, e.dir, "mosquitto_sub", e.tlsArgs("DSN000002", "-V", "5", "-i", "sub2", "-t", "test/#", "-v", "-C", "2", "-d")...)
	e.broker.waitLog(t, "as sub2 (p5, c1, k60, u'DSN000002')")
	e.broker.waitLog(t, "sub2 0 test/#")

	// The CONNECT username is ignored: the CN is the username.
	out, code := mosq(t, e.dir, "mosquitto_pub", e.tlsArgs("DSN000001", "-i", "DSN000001", "-u", "mallory", "-P", "x", "-t", "test/topic", "-m", "hello", "-q", "1")...)
	if code != 0 {
		t.Fatalf("mosquitto_pub exit %d: %s", code, out)
	}
	e.broker.waitLog(t, "as DSN000001 (p2, c1, k60, u'DSN000001')")

	// The seed's LWT recipe: a publisher with a will is killed with -9.
	pub := exec.Command("mosquitto_pub", e.tlsArgs("DSN000001", "-i", "dev1-lwt", "-t", "test/data", "-l",
		"--will-topic", "test/status", "--will-payload", "DSN000001 offline", "--will-qos", "1")...)
	pub.Dir = e.dir
	stdin, err := pub.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Start(); err != nil {
		t.Fatal(err)
	}
	defer stdin.Close()
	e.broker.waitLog(t, "as dev1-lwt")
	if err := pub.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = pub.Wait()

	select {
	case <-sub.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("subscriber did not get both messages:\n%s", sub.Stdout())
	}
	got := sub.Stdout()
	for _, want := range []string{"test/topic hello", "test/status DSN000001 offline"} {
		if !strings.Contains(got, want) {
			t.Errorf("subscriber output lacks %q:\n%s", want, got)
		}
	}
}

func TestMTLSRefusals(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	dir := t.TempDir()
	e := startMTLS(t, dir)
	other := newTestCA(t, t.TempDir(), "Other")
	other.leaf("other", leafOpts{cn: "DSN000009"})
	for _, ext := range []string{".crt", ".key"} {
		b, err := os.ReadFile(filepath.Join(other.dir, "other"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "other"+ext), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	e.ca.leaf("expired", leafOpts{cn: "DSN000003", notBefore: time.Now().Add(-48 * time.Hour), notAfter: time.Now().Add(-24 * time.Hour)})
	e.ca.leaf("future", leafOpts{cn: "DSN000004", notBefore: time.Now().Add(time.Hour), notAfter: time.Now().Add(48 * time.Hour)})
	e.ca.leaf("serveronly", leafOpts{cn: "DSN000005", server: true})
	e.ca.leaf("good", leafOpts{cn: "DSN000001"})

	cases := []struct {
		name, cert, log string
	}{
		{"no client cert", "", "tls: client didn't provide a certificate"},
		{"cert from another CA", "other", "certificate signed by unknown authority"},
		{"expired", "expired", "certificate has expired or is not yet valid: current time"},
		{"not yet valid", "future", "is before"},
		{"server-only EKU", "serveronly", "certificate specifies an incompatible key usage"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.broker.Stderr())
			out, code := mosq(t, dir, "mosquitto_pub", e.tlsArgs(c.cert, "-i", "refused-"+c.cert, "-t", "test/x", "-m", "x")...)
			if code == 0 {
				t.Fatalf("connection was accepted:\n%s", out)
			}
			testutil.WaitFor(t, 10*time.Second, "refusal log line", func() bool {
				return strings.Contains(e.broker.Stderr()[before:], c.log)
			})
			if !strings.Contains(e.broker.Stderr()[before:], "refused: TLS handshake") {
				t.Errorf("log does not say the handshake was refused:\n%s", e.broker.Stderr()[before:])
			}
		})
	}

	// Revoked while the broker runs: a live session is kicked, a new one refused.
	sub := testutil.Start(t, dir, "mosquitto_sub", e.tlsArgs("good", "-i", "good-sub", "-t", "test/#", "-d")...)
	e.broker.waitLog(t, "good-sub 0 test/#")
	_ = sub
	cert := readCert(t, filepath.Join(dir, "good.crt"))
	e.ca.revoke(cert)
	e.broker.waitLog(t, fmt.Sprintf("Client good-sub (u'DSN000001') disconnected: certificate CN=DSN000001,O=Acme (serial %X) is revoked.", cert.SerialNumber))
	before := len(e.broker.Stderr())
	out, code := mosq(t, dir, "mosquitto_pub", e.tlsArgs("good", "-i", "revoked", "-t", "test/x", "-m", "x")...)
	if code == 0 {
		t.Fatalf("revoked certificate was accepted:\n%s", out)
	}
	testutil.WaitFor(t, 10*time.Second, "revocation refusal", func() bool {
		return strings.Contains(e.broker.Stderr()[before:], "is revoked")
	})
}

// TestServerChainFromCAFile: a certfile with only the server's leaf is sent
// with the intermediates found in cafile, as Mosquitto sends them, so that a
// client that trusts only the root verifies the server. The same files are
// given to a real Mosquitto first, as the judge.
func TestServerChainFromCAFile(t *testing.T) {
	testutil.Need(t, "mosquitto", "mosquitto_pub")
	dir := t.TempDir()
	ca := newTestCA(t, dir, "Chain")
	leaf := ca.leaf("server", leafOpts{cn: "localhost", server: true})
	writePEM(t, filepath.Join(dir, "leaf-only.crt"), "CERTIFICATE", leaf.Raw)
	writePEM(t, filepath.Join(dir, "root.pem"), "CERTIFICATE", ca.root.Raw)
	body := func(p int) string {
		return fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nallow_anonymous true\n",
			p, filepath.Join(dir, "chain.pem"), filepath.Join(dir, "leaf-only.crt"), filepath.Join(dir, "server.key"))
	}
	pub := func(p int) (string, int) {
		return mosq(t, dir, "mosquitto_pub", "-h", "localhost", "-p", port(p), "--cafile", "root.pem", "-t", "chain/x", "-m", "1")
	}
	mp := testutil.FreePort(t)
	testutil.Mosquitto(t, mp, body(mp))
	if out, code := pub(mp); code != 0 {
		t.Fatalf("mosquitto with a leaf-only certfile: exit %d\n%s", code, out)
	}
	p := testutil.FreePort(t)
	startBroker(t, dir, body(p), p)
	if out, code := pub(p); code != 0 {
		t.Errorf("mqtls with a leaf-only certfile: exit %d (want 0, as mosquitto)\n%s", code, out)
	}
}
