package broker_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestCertificateIdentityRule: certificates made by openssl, signed by the
// broker's CA, that Go's verifier accepts but the identity rule does not:
// two CNs (Go keeps the last, Mosquitto the first), no extended key usage,
// anyExtendedKeyUsage only, and a CN that is no device id. The broker
// process refuses each at CONNECT with a log line that says why, and
// admits the same key with a proper certificate.
func TestCertificateIdentityRule(t *testing.T) {
	testutil.Need(t, "openssl", "mosquitto_pub")
	dir := t.TempDir()
	e := startMTLS(t, dir)
	writePEM(t, filepath.Join(dir, "inter.crt"), "CERTIFICATE", e.ca.inter.Raw)
	der, err := x509.MarshalPKCS8PrivateKey(e.ca.interKey)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(dir, "inter.key"), "PRIVATE KEY", der)
	openssl := func(args ...string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, 20*time.Second, "openssl", args...); code != 0 {
			t.Fatalf("openssl %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "dev.key")
	issue := func(name, subj, ext string) {
		t.Helper()
		extFile := filepath.Join(dir, name+".ext")
		if err := os.WriteFile(extFile, []byte("keyUsage=digitalSignature\n"+ext), 0o600); err != nil {
			t.Fatal(err)
		}
		openssl("req", "-new", "-key", "dev.key", "-subj", subj, "-out", name+".csr")
		openssl("x509", "-req", "-in", name+".csr", "-CA", "inter.crt", "-CAkey", "inter.key",
			"-CAcreateserial", "-days", "1", "-extfile", extFile, "-out", name+".crt")
	}
	issue("good", "/CN=DSN000001", "extendedKeyUsage=clientAuth\n")
	issue("twocn", "/CN=ATTACK/CN=DSN000001", "extendedKeyUsage=clientAuth\n")
	issue("noeku", "/CN=DSN000001", "")
	issue("anyeku", "/CN=DSN000001", "extendedKeyUsage=anyExtendedKeyUsage\n")
	issue("badcn", "/CN=dev#1", "extendedKeyUsage=clientAuth\n")
	// Two CNs in one multi-valued RDN.
	issue("rdncn", "/CN=DSN000001+CN=ATTACK", "extendedKeyUsage=clientAuth\n")

	pub := func(cert, id string) (string, int) {
		return mosq(t, dir, "mosquitto_pub", e.tlsArgs("", "--cert", cert+".crt", "--key", "dev.key",
			"-i", id, "-t", "test/x", "-m", "x", "-q", "1")...)
	}
	for _, c := range []struct{ cert, log string }{
		{"twocn", `the subject has 2 CNs (["ATTACK" "DSN000001"]): a certificate must name exactly one`},
		{"noeku", "it has no extended key usage: clientAuth is required"},
		{"anyeku", "its only extended key usage is anyExtendedKeyUsage: clientAuth is required"},
		{"rdncn", `the subject has 2 CNs`},
		{"badcn", `CN: invalid device id "dev#1": it must not contain '/', '+' or '#'`},
	} {
		t.Run(c.cert, func(t *testing.T) {
			before := len(e.broker.Stderr())
			id := "id-" + c.cert
			if out, code := pub(c.cert, id); code == 0 {
				t.Fatalf("mosquitto_pub with the %s certificate was accepted:\n%s", c.cert, out)
			}
			want := "Client " + id + " from "
			testutil.WaitFor(t, 10*time.Second, "refusal log line", func() bool {
				return strings.Contains(e.broker.Stderr()[before:], want)
			})
			var line string
			for _, l := range strings.Split(e.broker.Stderr()[before:], "\n") {
				if strings.Contains(l, want) {
					line = l
				}
			}
			if !strings.Contains(line, "refused") || !strings.Contains(line, "client certificate refused: "+c.log) {
				t.Errorf("log line %q does not say why (want %q)", line, c.log)
			}
		})
	}
	if out, code := pub("good", "id-good"); code != 0 {
		t.Fatalf("mosquitto_pub with a clientAuth certificate: exit %d\n%s", code, out)
	}
	e.broker.waitLog(t, "as id-good (p2, c1, k60, u'DSN000001')")
}
