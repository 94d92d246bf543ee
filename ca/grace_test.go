package ca_test

import (
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/testutil"
)

func crlHas(t *testing.T, c *ca.CA, serial string) bool {
	t.Helper()
	crls, err := ca.ReadCRLs(c.CRLPath())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range crls[0].RevokedCertificateEntries {
		if strings.EqualFold(e.SerialNumber.Text(16), serial) {
			return true
		}
	}
	return false
}

// A renewal with a grace keeps the old certificate out of crl.pem until the
// grace ends; GenerateCRL revokes it then, and revoking the name revokes the
// certificates in their grace with the current one.
func TestRenewGrace(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	for _, id := range []string{"DSN000001", "DSN000002"} {
		if _, err := c.IssueClient(id, ca.ClientOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	a, _, _ := c.Lookup("DSN000001")
	ren, err := c.Renew("DSN000001", ca.RenewOptions{Grace: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if ren.Old.Serial != a.Serial || ren.Old.Revoked || !ren.Old.Pending(time.Now()) {
		t.Fatalf("old certificate after a grace renewal: %+v", ren.Old)
	}
	rep, err := c.GenerateCRL()
	if err != nil || !rep.Empty() {
		t.Fatalf("GenerateCRL in the grace: %+v %v", rep, err)
	}
	if e, _, _ := c.Lookup(a.Serial); e.Revoked || crlHas(t, c, e.Serial) {
		t.Fatalf("the old certificate was revoked inside its grace: %+v", e)
	}

	// A grace that ends: the next CRL revokes it.
	b, _, _ := c.Lookup("DSN000002")
	ren2, err := c.Renew("DSN000002", ca.RenewOptions{Grace: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 5*time.Second, "the grace to end", func() bool { return time.Now().After(ren2.Old.GraceUntil) })
	if rep, _ := c.CheckCRL(time.Now()); len(rep.GraceEnded) != 1 || rep.GraceEnded[0].Serial != b.Serial {
		t.Errorf("CheckCRL after the grace: %+v", rep)
	}
	rep, err = c.GenerateCRL()
	if err != nil || len(rep.GraceEnded) != 1 || rep.GraceEnded[0].Serial != b.Serial {
		t.Fatalf("GenerateCRL after the grace: %+v %v", rep, err)
	}
	if e, _, _ := c.Lookup(b.Serial); !e.Revoked || e.Reason != "superseded" || !crlHas(t, c, b.Serial) {
		t.Errorf("after the grace: %+v, listed %v", e, crlHas(t, c, b.Serial))
	}
	if e, _, _ := c.Lookup(a.Serial); e.Revoked {
		t.Errorf("a grace of an hour ended early: %+v", e)
	}

	// Revoking the device takes its certificate in grace with it.
	r, err := c.Revoke("DSN000001", ca.KeyCompromise)
	if err != nil || len(r.Pending) != 1 || r.Pending[0].Serial != a.Serial {
		t.Fatalf("revoke with a certificate in grace: %+v %v", r, err)
	}
	for _, s := range []string{a.Serial, certs.SerialHex(ren.Cert)} {
		if e, _, _ := c.Lookup(s); !e.Revoked || !crlHas(t, c, s) {
			t.Errorf("%s not revoked with the device: %+v", s, e)
		}
	}
}
