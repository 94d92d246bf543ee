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
	cnOnlyCrt  string // a server certificate naming localhost in its CN only
	cnOnlyKey  string
	clientCrt  string // leaf then intermediate
	clientKey  string
	p12        string // LegacyDES bundle of the client key, cert and chain
	p12Pass    string // file holding its password
	otherChain string // a CA that signed nothing the broker trusts
	otherCrt   string // a client certificate from that CA
	otherKey   string
	revokedCrt string // DSN000009, revoked in crl
	revokedKey string
	crl        string // CRLs of the intermediate and the root
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	p := &testPKI{dir: dir}
	ca, err := minica.New()
	if err != nil {
		t.Fatal(err)
	}
	p.chain = writeTestPEM(t, dir, "chain.pem", "CERTIFICATE", ca.Intermediate.Raw, ca.Root.Raw)

	skey, scert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		DNSNames:    []string{"localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.serverCrt = writeTestPEM(t, dir, "server.crt", "CERTIFICATE", scert.Raw, ca.Intermediate.Raw)
	p.serverKey = writeTestKey(t, dir, "server.key", skey)

	nkey, ncert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "localhost"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	p.cnOnlyCrt = writeTestPEM(t, dir, "cnonly.crt", "CERTIFICATE", ncert.Raw, ca.Intermediate.Raw)
	p.cnOnlyKey = writeTestKey(t, dir, "cnonly.key", nkey)

	ckey, ccert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "DSN000001"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.clientCrt = writeTestPEM(t, dir, "client.crt", "CERTIFICATE", ccert.Raw, ca.Intermediate.Raw)
	p.clientKey = writeTestKey(t, dir, "client.key", ckey)

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
	p.otherChain = writeTestPEM(t, dir, "other.pem", "CERTIFICATE", other.Intermediate.Raw, other.Root.Raw)
	okey, ocert := issueTestCert(t, other, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "DSN000001"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.otherCrt = writeTestPEM(t, dir, "other.crt", "CERTIFICATE", ocert.Raw, other.Intermediate.Raw)
	p.otherKey = writeTestKey(t, dir, "other.key", okey)

	rkey, rcert := issueTestCert(t, ca, &x509.Certificate{
		Subject:     pkix.Name{CommonName: "DSN000009"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
	p.revokedCrt = writeTestPEM(t, dir, "revoked.crt", "CERTIFICATE", rcert.Raw, ca.Intermediate.Raw)
	p.revokedKey = writeTestKey(t, dir, "revoked.key", rkey)
	now := time.Now().Add(-time.Minute)
	icrl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour),
		RevokedCertificateEntries: []x509.RevocationListEntry{{SerialNumber: rcert.SerialNumber, RevocationTime: now}},
	}, ca.Intermediate, ca.Signer)
	if err != nil {
		t.Fatal(err)
	}
	rcrl, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
		Number: big.NewInt(1), ThisUpdate: now, NextUpdate: now.Add(24 * time.Hour),
	}, ca.Root, ca.RootSigner)
	if err != nil {
		t.Fatal(err)
	}
	p.crl = writeTestPEM(t, dir, "crl.pem", "X509 CRL", icrl, rcrl)
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

func writeTestPEM(t *testing.T, dir, name, typ string, ders ...[]byte) string {
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

func writeTestKey(t *testing.T, dir, name string, key crypto.Signer) string {
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
