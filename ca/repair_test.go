package ca_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/internal/testutil"
)

// A folder left by an older mqtls cut after the index line (the issue's
// case: the index says revoked, crl.pem does not list it): ca show fails
// and names the repair; cert revoke run again and ca crl complete it.
func TestRepairIndexAheadOfCRL(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	run := func(args ...string) (string, int) {
		t.Helper()
		return testutil.Run(t, dir, time.Minute, testutil.Mqtls(t), append(args, "--pki", "pki")...)
	}
	for _, args := range [][]string{{"ca", "init", "--no-password", "--insecure"}, {"cert", "client", "DSN000001"}, {"cert", "client", "DSN000002"}} {
		if out, code := run(args...); code != 0 {
			t.Fatalf("%v: %s", args, out)
		}
	}
	before, err := os.ReadFile(filepath.Join(pki, ca.CRLFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"DSN000001", "DSN000002"} {
		if out, code := run("cert", "revoke", id); code != 0 {
			t.Fatalf("revoke %s: %s", id, out)
		}
	}
	// Put the CRL of before both revocations back: the state the old
	// order left.
	if err := os.WriteFile(filepath.Join(pki, ca.CRLFile), before, 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := run("ca", "show")
	if code != 1 || !strings.Contains(out, "does not list DSN000001") || !strings.Contains(out, "DSN000002") || !strings.Contains(out, "mqtls ca crl") {
		t.Fatalf("ca show on an index ahead of crl.pem: exit %d\n%s", code, out)
	}
	out, code = run("cert", "revoke", "DSN000001")
	if code != 0 || !strings.Contains(out, "crl.pem did not list DSN000001") {
		t.Fatalf("re-run of cert revoke: exit %d\n%s", code, out)
	}
	for _, id := range []string{"DSN000001", "DSN000002"} {
		if !verifyRevoked(t, pki, id) {
			t.Errorf("openssl verify -crl_check accepts %s after the repair", id)
		}
	}
	if out, code := run("ca", "show"); code != 0 {
		t.Errorf("ca show after the repair: exit %d\n%s", code, out)
	}
	// And a re-run on a clean folder says it was already revoked.
	out, code = run("cert", "revoke", "DSN000001")
	if code != 0 || !strings.Contains(out, "already revoked") || strings.Contains(out, "completed") {
		t.Errorf("cert revoke of a revoked certificate: exit %d\n%s", code, out)
	}
}

// crl.pem missing, or replaced by another CA's: ca show fails, ca crl
// writes it again with every revocation.
func TestRepairBadCRL(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	if _, err := c.IssueClient("DSN000001", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke("DSN000001", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	other := newCA(t, ca.InitOptions{Name: "Other"})
	foreign, err := os.ReadFile(other.CRLPath())
	if err != nil {
		t.Fatal(err)
	}
	for name, breakIt := range map[string]func() error{
		"missing": func() error { return os.Remove(c.CRLPath()) },
		"foreign": func() error { return os.WriteFile(c.CRLPath(), foreign, 0o644) },
		"damaged": func() error {
			return os.WriteFile(c.CRLPath(), []byte("-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n"), 0o644)
		},
	} {
		if err := breakIt(); err != nil {
			t.Fatal(err)
		}
		rep, err := c.CheckCRL(time.Now())
		if err != nil || rep.BadCRL == "" || len(rep.Problems()) == 0 {
			t.Errorf("%s crl.pem: check %+v, %v", name, rep, err)
		}
		st, err := c.Status(time.Now())
		if err != nil || len(st.Problems) == 0 {
			t.Errorf("%s crl.pem: status problems %v, %v", name, st.Problems, err)
		}
		rep, err = c.GenerateCRL()
		if err != nil || rep.BadCRL == "" {
			t.Errorf("%s crl.pem: ca crl %+v, %v", name, rep, err)
		}
		if !verifyRevoked(t, c.Dir(), "DSN000001") {
			t.Errorf("%s crl.pem: after ca crl openssl accepts the revoked certificate", name)
		}
		if rep, _ := c.CheckCRL(time.Now()); !rep.Empty() {
			t.Errorf("%s crl.pem: still to repair after ca crl: %+v", name, rep)
		}
	}
}

// A revocation crl.pem lists that the index does not know (an index put
// back from a backup older than the certificate) stays in every CRL
// written after: a revocation is never dropped.
func TestCRLNeverDropsARevocation(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	idx := filepath.Join(c.Dir(), ca.IndexFile)
	backup, err := os.ReadFile(idx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueClient("DSN000001", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Revoke("DSN000001", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(idx, backup, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ca.Open(c.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.IssueClient("DSN000002", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Revoke("DSN000002", ca.Unspecified); err != nil {
		t.Fatal(err)
	}
	if _, err := r.GenerateCRL(); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"DSN000001", "DSN000002"} {
		if !verifyRevoked(t, c.Dir(), id) {
			t.Errorf("crl.pem no longer lists %s", id)
		}
	}
}
