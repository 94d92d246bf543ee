package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestTLSKeyExchange: a Go client (which offers the post-quantum hybrid
// first) gets X25519MLKEM768 from a listener with no tls_key_exchange or
// with hybrid, and X25519 from one with classic; classic still accepts a
// P-256-only client and refuses a P-384-only one.
func TestTLSKeyExchange(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "KX")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	def, hyb, cls := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	listener := "listener %d 127.0.0.1\ncertfile server.crt\nkeyfile server.key\n"
	conf := "allow_anonymous true\n" + fmt.Sprintf(listener, def) +
		fmt.Sprintf(listener, hyb) + "tls_key_exchange hybrid\n" +
		fmt.Sprintf(listener, cls) + "tls_key_exchange classic\n"
	startBroker(t, dir, conf, def, hyb, cls)

	pem, err := os.ReadFile(filepath.Join(dir, "chain.pem"))
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		t.Fatal("chain.pem holds no certificate")
	}
	handshake := func(port int, curves []tls.CurveID) (tls.CurveID, error) {
		c, err := tls.Dial("tcp", testutil.Addr(port), &tls.Config{
			RootCAs: roots, ServerName: "localhost", MinVersion: tls.VersionTLS13, CurvePreferences: curves,
		})
		if err != nil {
			return 0, err
		}
		defer c.Close()
		return c.ConnectionState().CurveID, nil
	}
	for _, tc := range []struct {
		name   string
		port   int
		curves []tls.CurveID
		want   tls.CurveID
	}{
		{"default", def, nil, tls.X25519MLKEM768},
		{"hybrid", hyb, nil, tls.X25519MLKEM768},
		{"classic", cls, nil, tls.X25519},
		{"classic P-256 client", cls, []tls.CurveID{tls.CurveP256}, tls.CurveP256},
		{"hybrid P-384 client", hyb, []tls.CurveID{tls.CurveP384}, tls.CurveP384},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := handshake(tc.port, tc.curves)
			if err != nil {
				t.Fatalf("handshake: %v", err)
			}
			if got != tc.want {
				t.Errorf("key exchange %v, want %v", got, tc.want)
			}
		})
	}
	t.Run("classic refuses P-384 only", func(t *testing.T) {
		if got, err := handshake(cls, []tls.CurveID{tls.CurveP384}); err == nil {
			t.Errorf("handshake succeeded with %v", got)
		}
	})
	// Debian's openssl as a second judge: its default groups get X25519
	// from classic; P-384 alone is refused by classic, taken by hybrid.
	t.Run("openssl", func(t *testing.T) {
		testutil.Need(t, "openssl")
		sclient := func(port int, groups ...string) (string, int) {
			args := []string{"s_client", "-connect", testutil.Addr(port), "-CAfile", "chain.pem", "-brief"}
			if len(groups) > 0 {
				args = append(args, "-groups", groups[0])
			}
			return testutil.Run(t, dir, 20*time.Second, "openssl", args...)
		}
		if out, code := sclient(cls); code != 0 || !strings.Contains(out, "Server Temp Key: X25519") {
			t.Errorf("openssl s_client to classic: exit %d\n%s", code, out)
		}
		if out, code := sclient(cls, "P-384"); code == 0 {
			t.Errorf("openssl s_client -groups P-384 to classic succeeded\n%s", out)
		}
		if out, code := sclient(hyb, "P-384"); code != 0 || !strings.Contains(out, "Server Temp Key: ECDH, secp384r1") {
			t.Errorf("openssl s_client -groups P-384 to hybrid: exit %d\n%s", code, out)
		}
	})
}
