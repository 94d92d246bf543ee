package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"go.step.sm/crypto/minica"
	"software.sslmate.com/src/go-pkcs12"
)

// testPKI is a throwaway CA (root + intermediate), a server certificate for
// "localhost" only and a client certificate for DSN000001, as files.
type testPKI struct {
	dir        string
	chain      string // intermediate then root: the broker's and clients' cafile
	serverCrt  string
	serverKey  string
	clientCrt  string // leaf then intermediate
	clientKey  string
	p12        string // LegacyDES bundle of the client key, cert and chain
	p12Pass    string // file holding its password
	otherChain string // a CA that signed nothing we use
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	ca, err := minica.New()
	if err != nil {
		t.Fatal(err)
	}
	p.chain = writePEM(t, dir, "chain.pem", "CERTIFICATE", ca.Intermediate.Raw, ca.Root.Raw)

	skey, scert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.serverCrt = writePEM(t, dir, "server.crt", "CERTIFICATE", scert.Raw, ca.Intermediate.Raw)
	p.serverKey = writeKey(t, dir, "server.key", skey)

	ckey, ccert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "DSN000001"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCrt = writePEM(t, dir, "client.crt", "CERTIFICATE", ccert.Raw, ca.Intermediate.Raw)
	p.clientKey = writeKey(t, dir, "client.key", ckey)

	pass := "p12-test-pass"
	b, err := pkcs12.LegacyDES.WithIterations(2048).Encode(ckey, ccert, []*x509.Certificate{ca.Intermediate, ca.Root}, pass)
	if err != nil {
		t.Fatal(err)
	}
	p.p12 = filepath.Join(dir, "DSN000001.p12")
	if err := os.WriteFile(p.p12, b, 0o600); err != nil {
		t.Fatal(err)
	}
	p.p12Pass = filepath.Join(dir, "DSN000001.pass")
	if err := os.WriteFile(p.p12Pass, []byte(pass+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	other, err := minica.New()
	if err != nil {
		t.Fatal(err)
	}
	p.otherChain = writePEM(t, dir, "other.pem", "CERTIFICATE", other.Intermediate.Raw, other.Root.Raw)
	return p
}

func issueTestCert(t *testing.T, ca *minica.CA, tmpl *x509.Certificate) (crypto.Signer, *x509.Certificate) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl.SerialNumber = serial
	tmpl.PublicKey = key.Public()
	tmpl.NotBefore = time.Now().Add(-time.Minute)
	tmpl.NotAfter = time.Now().Add(24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature
	if tmpl.IPAddresses == nil && len(tmpl.DNSNames) == 0 {
		tmpl.IPAddresses = []net.IP{}
	}
	cert, err := ca.Sign(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t *testing.T, dir, name, typ string, ders ...[]byte) string {
	t.Helper()
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func writeKey(t *testing.T, dir, name string, key crypto.Signer) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
