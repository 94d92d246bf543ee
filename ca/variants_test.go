package ca_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/certs"
)

// TestNoIntermediateRSA: a root-only RSA CA signs leaves itself; OpenSSL
// verifies them with the root alone and honours its CRL.
func TestNoIntermediateRSA(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{NoIntermediate: true, KeyType: certs.RSA})
	if c.HasIntermediate() || len(c.Chain()) != 1 {
		t.Fatal("an intermediate exists")
	}
	if _, err := os.Stat(filepath.Join(c.Dir(), ca.CAKeyFile)); err == nil {
		t.Error("ca.key written without an intermediate")
	}
	dir := c.Dir()
	if out, _ := openssl(t, dir, "x509", "-in", "root.crt", "-noout", "-text"); !strings.Contains(out, "pathlen:0") || !strings.Contains(out, "RSA Public-Key: (2048 bit)") && !strings.Contains(out, "Public-Key: (2048 bit)") {
		t.Errorf("root:\n%s", out)
	}
	for _, id := range []string{"a", "b"} {
		if _, err := c.IssueClient(id, ca.ClientOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.Revoke("b", ca.CessationOfOperation); err != nil {
		t.Fatal(err)
	}
	crls, err := ca.ReadCRLs(c.CRLPath())
	if err != nil || len(crls) != 1 {
		t.Fatalf("crl.pem: %d CRLs, %v", len(crls), err)
	}
	if out, code := openssl(t, dir, "verify", "-crl_check_all", "-CRLfile", "crl.pem", "-CAfile", "chain.pem", "issued/a.crt"); code != 0 {
		t.Errorf("a: %s", out)
	}
	if out, code := openssl(t, dir, "verify", "-crl_check_all", "-CRLfile", "crl.pem", "-CAfile", "chain.pem", "issued/b.crt"); code == 0 {
		t.Errorf("b passed: %s", out)
	}
}

// TestBatchModeAndP12 issues in batch mode and exports bundles; a revoked
// name cannot be exported.
func TestBatchModeAndP12(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	c.DeferSync(true)
	iss, err := c.IssueClient("phone", ca.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.WriteP12(iss, ca.P12Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Sync(); err != nil {
		t.Fatal(err)
	}
	for p, want := range map[string]os.FileMode{res.Path: 0o600, res.PasswordPath: 0o600, c.IssuedPath("phone", ".key"): 0o600, c.IssuedPath("phone", ".crt"): 0o644} {
		if m := mode(t, p); m != want {
			t.Errorf("%s mode %o, want %o", p, m, want)
		}
	}
	pw, _ := os.ReadFile(res.PasswordPath)
	if strings.TrimSpace(string(pw)) != res.Password {
		t.Error("the .pass file does not hold the password")
	}
	// Export from disk with a chosen password, to a chosen path.
	out := filepath.Join(t.TempDir(), "x.p12")
	r2, err := c.ExportP12("phone", ca.P12Options{Modern: true, Password: "chosen-password", Out: out})
	if err != nil || r2.PasswordPath != "" || r2.Path != out {
		t.Fatalf("export: %+v %v", r2, err)
	}
	if _, code := openssl(t, "", "pkcs12", "-info", "-noout", "-in", out, "-passin", "pass:chosen-password"); code != 0 {
		t.Error("openssl cannot open the exported bundle")
	}
	if _, err := c.Revoke("phone", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExportP12("phone", ca.P12Options{}); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Errorf("export of a revoked name: %v", err)
	}
	st, err := c.Check(iss.Cert, time.Now())
	if err != nil || st.State != ca.StateRevoked {
		t.Errorf("check: %+v %v", st, err)
	}
	other := newCA(t, ca.InitOptions{})
	if st, _ := other.Check(iss.Cert, time.Now()); st.State != ca.StateNotOurCA {
		t.Errorf("check by another CA: %+v", st)
	}
}

// TestLoadCannotSign: a CA loaded without keys refuses to sign.
func TestLoadCannotSign(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	r, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.IssueClient("x", ca.ClientOptions{}); err != ca.ErrLocked {
		t.Errorf("issue: %v", err)
	}
	if _, err := r.GenerateCRL(); err != ca.ErrLocked {
		t.Errorf("crl: %v", err)
	}
}

// TestInitLeavesNothingOnFailure: a stray file in the folder stops init
// before anything is written, and a folder init made is removed again.
func TestInitLeavesNothingOnFailure(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	os.Mkdir(dir, 0o755)
	os.WriteFile(filepath.Join(dir, ca.IndexFile), []byte("mine"), 0o644)
	err := ca.Init(dir, ca.InitOptions{})
	if err == nil || !strings.Contains(err.Error(), "holds no CA") {
		t.Fatalf("init over a stray index: %v", err)
	}
	left, _ := os.ReadDir(dir)
	if len(left) != 1 {
		t.Errorf("init left %d entries, want only the stray file", len(left))
	}
	if b, _ := os.ReadFile(filepath.Join(dir, ca.IndexFile)); string(b) != "mine" {
		t.Error("the stray file was changed")
	}
	// Unknown key type: the folder init would have made does not appear.
	fresh := filepath.Join(t.TempDir(), "new")
	if err := ca.Init(fresh, ca.InitOptions{KeyType: "dsa"}); err == nil {
		t.Fatal("init with key type dsa succeeded")
	}
	if _, err := os.Stat(fresh); err == nil {
		t.Error("a failed init left its folder")
	}
	c := newCA(t, ca.InitOptions{})
	iss, _ := c.IssueClient("a", ca.ClientOptions{})
	c.Revoke("a", ca.KeyCompromise)
	if r, err := c.IsRevoked(certs.SerialHex(iss.Cert)); !r || err != nil {
		t.Errorf("IsRevoked: %v %v", r, err)
	}
}

// TestCRLRegeneration: `ca crl` re-signs both CRLs with a larger number and
// a next update CRLDays ahead; OpenSSL reads the numbers and checks the
// signatures against the chain.
func TestCRLRegeneration(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	number := func() string {
		out, code := openssl(t, c.Dir(), "crl", "-in", "crl.pem", "-noout", "-crlnumber", "-CAfile", "chain.pem")
		if code != 0 || !strings.Contains(out, "verify OK") {
			t.Fatalf("openssl crl: %s", out)
		}
		return strings.TrimSpace(strings.TrimPrefix(strings.Split(out, "\n")[1], "crlNumber="))
	}
	before := number()
	if _, err := c.GenerateCRL(); err != nil {
		t.Fatal(err)
	}
	after := number()
	if len(after) < len(before) || len(after) == len(before) && after <= before {
		t.Errorf("CRL number %s after %s", after, before)
	}
	crls, err := ca.ReadCRLs(c.CRLPath())
	if err != nil || len(crls) != 2 {
		t.Fatalf("%d CRLs, %v", len(crls), err)
	}
	for i, l := range crls {
		if d := time.Until(l.NextUpdate); d < (ca.CRLDays-1)*24*time.Hour || d > ca.CRLDays*24*time.Hour {
			t.Errorf("CRL %d next update in %v", i, d)
		}
	}
	if w := c.CRLWarnings(time.Now()); len(w) != 0 {
		t.Errorf("fresh CRL warns: %v", w)
	}
	if w := c.CRLWarnings(time.Now().AddDate(0, 0, ca.CRLDays-2)); len(w) != 2 || !strings.Contains(w[0], "mqtls ca crl") {
		t.Errorf("CRL close to expiry: %v", w)
	}
	if w := c.CRLWarnings(time.Now().AddDate(0, 0, ca.CRLDays+1)); len(w) != 2 || !strings.Contains(w[0], "refuse every client") {
		t.Errorf("expired CRL: %v", w)
	}
}
