package enroll_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/ca"
	"mqtls/enroll"
)

// TestRetryAfterCutRevokeIsNotAnsweredRevoked: a revoke killed after it
// replaced crl.pem and before it appended its index line (the state is
// made by revoking and putting the index back as it was before the
// revoke line) leaves a certificate that crl.pem lists and the index still
// calls current. The device's retry with the same key must not be answered
// with that certificate: every broker refuses it.
func TestRetryAfterCutRevokeIsNotAnsweredRevoked(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req, _ := json.Marshal(enroll.Request{ID: "DSN000001", CSR: csrFor(t, key, "DSN000001")})
	var first enroll.Response
	if err := json.Unmarshal(f.s.Enroll(f.claim, "test", req), &first); err != nil || first.Status != enroll.StatusIssued {
		t.Fatalf("first enrollment: %+v (%v)", first, err)
	}
	idx := filepath.Join(f.ca.Dir(), ca.IndexFile)
	before, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.ca.Revoke("DSN000001", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, before, 0o644); err != nil {
		t.Fatal(err)
	}

	// The next run: a fresh CA and service on the same folders.
	a, err := ca.Open(f.ca.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(idx); err != nil || !strings.Contains(string(b), `"op":"revoke"`) {
		t.Errorf("opening the CA did not record the revoke crl.pem lists (%v)", err)
	}
	e, ok, err := a.Lookup("DSN000001")
	if err != nil || !ok || !e.Revoked || e.Current {
		t.Errorf("the index reader says DSN000001 is %+v (%v), want revoked: crl.pem lists it", e, err)
	}
	if revoked, err := a.IsRevoked(e.Serial); err != nil || !revoked {
		t.Errorf("IsRevoked(%s) = %v (%v), want true: crl.pem lists it", e.Serial, revoked, err)
	}
	s, err := enroll.New(enroll.Config{CA: a, Store: f.st, Role: "device"})
	if err != nil {
		t.Fatal(err)
	}
	var again enroll.Response
	if err := json.Unmarshal(s.Enroll(f.claim, "test", req), &again); err != nil {
		t.Fatal(err)
	}
	if again.Status == enroll.StatusIssued {
		blk, _ := pem.Decode([]byte(again.Certificate))
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if s := fmt.Sprintf("%X", leaf.SerialNumber); s == e.Serial {
			t.Errorf("the retry was answered with %s, which crl.pem revokes", s)
		}
	}
}
