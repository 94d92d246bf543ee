package broker

import (
	"path/filepath"
	"testing"
	"time"

	"mqtls/ca"
)

// TestCertState: a CN's state is valid while one of its certificates is the
// current, usable one of its name, else that of its newest certificate.
func TestCertState(t *testing.T) {
	now := time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	ok := ca.Entry{Current: true, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour)}
	revoked := ok
	revoked.Current, revoked.Revoked = false, true
	expired := ok
	expired.NotAfter = now.Add(-time.Minute)
	future := ok
	future.NotBefore = now.Add(time.Minute)
	replaced := ok
	replaced.Current, replaced.GraceUntil = false, now.Add(time.Hour)
	for name, c := range map[string]struct {
		entries []ca.Entry
		want    string
	}{
		"none":                  {nil, CertNone},
		"valid":                 {[]ca.Entry{ok}, CertValid},
		"revoked":               {[]ca.Entry{revoked}, CertRevoked},
		"expired":               {[]ca.Entry{expired}, CertExpired},
		"not yet valid":         {[]ca.Entry{future}, CertNotYet},
		"renewed: the new one":  {[]ca.Entry{replaced, ok}, CertValid},
		"in grace, new revoked": {[]ca.Entry{replaced, revoked}, CertRevoked},
		"replaced only":         {[]ca.Entry{replaced}, CertSuperseded},
		"revoked then reissued": {[]ca.Entry{revoked, ok}, CertValid},
	} {
		if got := certState(c.entries, now); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

// TestPKIStatusFollowsIndex: the states follow what another process (here
// another CA handle) appends to the index: an issue, then a revocation.
func TestPKIStatusFollowsIndex(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := ca.Init(dir, ca.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	p, err := newPKIStatus(dir)
	if err != nil {
		t.Fatal(err)
	}
	states := func() map[string]string {
		t.Helper()
		m, err := p.States([]string{"dev1", "dev2"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := states(); m["dev1"] != CertNone || m["dev2"] != CertNone {
		t.Fatalf("empty PKI: %v", m)
	}
	signer, err := ca.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := signer.IssueClient("dev1", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if m := states(); m["dev1"] != CertValid || m["dev2"] != CertNone {
		t.Fatalf("after issuing dev1: %v", m)
	}
	if _, err := signer.Revoke("dev1", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if m := states(); m["dev1"] != CertRevoked {
		t.Fatalf("after revoking dev1: %v", m)
	}
}
