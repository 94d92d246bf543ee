package broker_test

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
)

// testCA is a throwaway CA for test fixtures: a root and an issuing
// intermediate, as the project's own CA makes them.
type testCA struct {
	t        testing.TB
	dir      string
	root     *x509.Certificate
	rootKey  crypto.Signer
	inter    *x509.Certificate
	interKey crypto.Signer
	revoked  []x509.RevocationListEntry
	crlNum   int64
}

func newKey(t testing.TB) crypto.Signer {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func serial(t testing.TB) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 64))
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func sign(t testing.TB, tmpl, parent *x509.Certificate, pub any, key crypto.Signer) *x509.Certificate {
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// newTestCA writes chain.pem (intermediate + root) and an empty crl.pem in dir.
func newTestCA(t testing.TB, dir, name string) *testCA {
	ca := &testCA{t: t, dir: dir}
	now := time.Now()
	ca.rootKey = newKey(t)
	rt := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name + " Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 1,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca.root = sign(t, rt, rt, ca.rootKey.Public(), ca.rootKey)
	ca.interKey = newKey(t)
	it := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: name + " Issuing CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, MaxPathLen: 0, MaxPathLenZero: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	ca.inter = sign(t, it, ca.root, ca.interKey.Public(), ca.rootKey)
	writePEM(t, filepath.Join(dir, "chain.pem"), "CERTIFICATE", ca.inter.Raw, ca.root.Raw)
	ca.writeCRL(time.Now().Add(24 * time.Hour))
	return ca
}

type leafOpts struct {
	cn        string
	server    bool // serverAuth EKU only
	notBefore time.Time
	notAfter  time.Time
	hosts     []string
}

// leaf writes NAME.crt (leaf + intermediate) and NAME.key and returns the cert.
func (ca *testCA) leaf(name string, o leafOpts) *x509.Certificate {
	t := ca.t
	if o.notBefore.IsZero() {
		o.notBefore = time.Now().Add(-time.Minute)
	}
	if o.notAfter.IsZero() {
		o.notAfter = time.Now().Add(time.Hour)
	}
	key := newKey(t)
	tmpl := &x509.Certificate{
		SerialNumber: serial(t), Subject: pkix.Name{CommonName: o.cn, Organization: []string{"Acme"}},
		NotBefore: o.notBefore, NotAfter: o.notAfter,
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if o.server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = append([]string{"localhost"}, o.hosts...)
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	c := sign(t, tmpl, ca.inter, key.Public(), ca.interKey)
	writePEM(t, filepath.Join(ca.dir, name+".crt"), "CERTIFICATE", c.Raw, ca.inter.Raw)
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	writePEM(t, filepath.Join(ca.dir, name+".key"), "PRIVATE KEY", der)
	return c
}

// revoke adds c to the CRL and rewrites crl.pem.
func (ca *testCA) revoke(c *x509.Certificate) {
	ca.revoked = append(ca.revoked, x509.RevocationListEntry{SerialNumber: c.SerialNumber, RevocationTime: time.Now()})
	ca.writeCRL(time.Now().Add(24 * time.Hour))
}

// writeCRL writes crl.pem: the intermediate's CRL, then the root's.
func (ca *testCA) writeCRL(next time.Time) {
	t := ca.t
	ca.crlNum++
	now := time.Now()
	var ders [][]byte
	for _, s := range []struct {
		cert    *x509.Certificate
		key     crypto.Signer
		entries []x509.RevocationListEntry
	}{{ca.inter, ca.interKey, ca.revoked}, {ca.root, ca.rootKey, nil}} {
		der, err := x509.CreateRevocationList(rand.Reader, &x509.RevocationList{
			Number: big.NewInt(ca.crlNum), ThisUpdate: now.Add(-2 * time.Hour), NextUpdate: next,
			RevokedCertificateEntries: s.entries,
		}, s.cert, s.key)
		if err != nil {
			t.Fatal(err)
		}
		ders = append(ders, der)
	}
	writePEM(t, filepath.Join(ca.dir, "crl.pem"), "X509 CRL", ders...)
}

func writePEM(t testing.TB, path, typ string, ders ...[]byte) {
	var out []byte
	for _, d := range ders {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: d})...)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, out, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func readCert(t testing.TB, path string) *x509.Certificate {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return c
}
