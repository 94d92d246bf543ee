package ca_test

import (
	"os"
	"path/filepath"
	"testing"

	"mqtls/ca"
	"mqtls/certs"
)

// TestUndoGivesTheClaimUseBack: Undo revokes an enrolled certificate and
// gives its claim's use back, as the index reads on the next run; an undo
// cut after crl.pem (the index put back as it was) leaves the certificate
// revoked and the use taken, and Undo run again gives it back, once.
func TestUndoGivesTheClaimUseBack(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	claim, err := c.IssueClaim("line", ca.ClaimOptions{MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	cs := certs.SerialHex(claim.Cert)
	uses := func(c *ca.CA) int {
		t.Helper()
		_, n, _, err := c.Claim(cs)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	for _, id := range []string{"DEV1", "DEV2"} {
		iss, err := c.Issue(certs.Request{Kind: certs.Client, Name: id, EnrolledBy: cs})
		if err != nil {
			t.Fatal(err)
		}
		if n := uses(c); n != 1 {
			t.Fatalf("%s enrolled: the claim counts %d uses, want 1", id, n)
		}
		idx := filepath.Join(c.Dir(), ca.IndexFile)
		before, err := os.ReadFile(idx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Undo(certs.SerialHex(iss.Cert)); err != nil {
			t.Fatal(err)
		}
		if id == "DEV2" {
			// The cut: crl.pem written, neither index line.
			if err := os.WriteFile(idx, before, 0o644); err != nil {
				t.Fatal(err)
			}
			next, err := ca.Open(c.Dir(), nil)
			if err != nil {
				t.Fatal(err)
			}
			if e, _, _ := next.Lookup(id); !e.Revoked || e.Undone || uses(next) != 1 {
				t.Errorf("after the cut undo: %s revoked %v, undone %v, the claim counts %d uses; want revoked, not undone, 1", id, e.Revoked, e.Undone, uses(next))
			}
			r, err := next.Undo(certs.SerialHex(iss.Cert))
			if err != nil || !r.Already || !r.Undone {
				t.Errorf("Undo again after the cut: %+v (%v), want already revoked and undone", r, err)
			}
			if _, err := next.Undo(certs.SerialHex(iss.Cert)); err != nil {
				t.Errorf("a third Undo: %v", err)
			}
		}
		next, err := ca.Open(c.Dir(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if e, _, _ := next.Lookup(id); !e.Revoked || !e.Undone || e.Reason != ca.CessationOfOperation.String() {
			t.Errorf("%s after Undo: %+v, want revoked (cessationOfOperation) and undone", id, e)
		}
		if n := uses(next); n != 0 {
			t.Errorf("%s after Undo: the claim counts %d uses on the next run, want 0", id, n)
		}
		c = next
	}
}
