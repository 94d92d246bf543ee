package ca_test

import (
	"errors"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/testutil"
)

// newCA makes an unencrypted CA (fast) in a fresh folder and opens it.
func newCA(t *testing.T, opts ca.InitOptions) *ca.CA {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := ca.Init(dir, opts); err != nil {
		t.Fatal(err)
	}
	c, err := ca.Open(dir, opts.Password)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func openssl(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	testutil.Need(t, "openssl")
	return testutil.Run(t, dir, 30*time.Second, "openssl", args...)
}

func mode(t *testing.T, path string) os.FileMode {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Mode().Perm()
}

func TestInitPasswordAndModes(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "pki")
	pw := []byte("correct horse battery staple")
	if err := ca.Init(dir, ca.InitOptions{Name: "Acme IoT", Password: pw}); err != nil {
		t.Fatal(err)
	}
	if m := mode(t, dir); m != 0o700 {
		t.Errorf("folder mode %o, want 700", m)
	}
	for _, f := range []string{ca.RootKeyFile, ca.CAKeyFile} {
		p := filepath.Join(dir, f)
		if m := mode(t, p); m != 0o600 {
			t.Errorf("%s mode %o, want 600", f, m)
		}
		b, _ := os.ReadFile(p)
		if !strings.HasPrefix(string(b), "-----BEGIN ENCRYPTED PRIVATE KEY-----") {
			t.Errorf("%s does not begin with ENCRYPTED PRIVATE KEY:\n%.60s", f, b)
		}
		// The oracle: OpenSSL reads it with the password and not without.
		if out, code := openssl(t, dir, "pkey", "-in", f, "-passin", "pass:"+string(pw), "-noout"); code != 0 {
			t.Errorf("openssl pkey %s: %s", f, out)
		}
		if _, code := openssl(t, dir, "pkey", "-in", f, "-passin", "pass:wrong", "-noout"); code == 0 {
			t.Errorf("openssl pkey %s accepted a wrong password", f)
		}
	}
	if err := ca.Init(dir, ca.InitOptions{}); !errors.Is(err, ca.ErrCAExists) {
		t.Errorf("second init: %v, want ErrCAExists", err)
	}
	if _, err := ca.Open(dir, []byte("wrong")); !errors.Is(err, ca.ErrWrongPassword) {
		t.Errorf("open with wrong password: %v", err)
	}
	if _, err := ca.Open(dir, nil); !errors.Is(err, ca.ErrPasswordNeeded) {
		t.Errorf("open without password: %v", err)
	}
	c, err := ca.Open(dir, pw)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.IssueClient("DSN000001", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	// Revoking needs the root key too (root CRL): decrypted with the same password.
	if _, err := c.Revoke("DSN000001", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	if out, code := openssl(t, dir, "verify", "-CAfile", "root.crt", "ca.crt"); code != 0 {
		t.Errorf("verify intermediate: %s", out)
	}
	if out, _ := openssl(t, dir, "x509", "-in", "root.crt", "-noout", "-text"); !strings.Contains(out, "pathlen:1") || !strings.Contains(out, "Acme IoT Root CA") {
		t.Errorf("root:\n%s", out)
	}
}

func TestIssueVerifyPurposeAndCRL(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	dir := c.Dir()
	srv, err := c.IssueServer(ca.ServerOptions{Hosts: []string{"liot.com", "localhost"}, IPs: []net.IP{net.ParseIP("192.168.7.123"), net.ParseIP("::1")}})
	if err != nil {
		t.Fatal(err)
	}
	if srv.Cert.Subject.CommonName != "liot.com" {
		t.Errorf("server CN %q", srv.Cert.Subject.CommonName)
	}
	for _, id := range []string{"DSN000001", "DSN000002", "DSN000003"} {
		if _, err := c.IssueClient(id, ca.ClientOptions{Org: "Acme"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.IssueClient("DSN000001", ca.ClientOptions{}); !errors.Is(err, ca.ErrExists) {
		t.Errorf("second issue: %v, want ErrExists", err)
	}
	for _, f := range []string{"server.key", "DSN000001.key"} {
		if m := mode(t, filepath.Join(dir, "issued", f)); m != 0o600 {
			t.Errorf("%s mode %o", f, m)
		}
	}
	iss := func(n string) string { return filepath.Join("issued", n+".crt") }
	verify := func(args ...string) (string, int) {
		return openssl(t, dir, append([]string{"verify", "-x509_strict", "-CAfile", "root.crt", "-untrusted", "ca.crt"}, args...)...)
	}
	if out, code := verify(iss("server"), iss("DSN000001")); code != 0 {
		t.Fatalf("verify: %s", out)
	}
	cases := []struct {
		purpose, cert string
		ok            bool
	}{
		{"sslserver", "server", true},
		{"sslclient", "server", false},
		{"sslclient", "DSN000001", true},
		{"sslserver", "DSN000001", false},
	}
	for _, tc := range cases {
		out, code := verify("-purpose", tc.purpose, iss(tc.cert))
		if (code == 0) != tc.ok {
			t.Errorf("-purpose %s %s: exit %d, want ok=%v\n%s", tc.purpose, tc.cert, code, tc.ok, out)
		}
	}
	out, _ := openssl(t, dir, "x509", "-in", iss("server"), "-noout", "-ext", "subjectAltName")
	for _, want := range []string{"DNS:liot.com", "DNS:localhost", "IP Address:192.168.7.123", "IP Address:0:0:0:0:0:0:0:1"} {
		if !strings.Contains(out, want) {
			t.Errorf("server SANs lack %s:\n%s", want, out)
		}
	}

	// Revoke one by name and one by serial (lower case, with colons).
	if _, err := c.Revoke("DSN000002", ca.KeyCompromise); err != nil {
		t.Fatal(err)
	}
	e3, _, _ := c.Lookup("DSN000003")
	if _, err := c.Revoke(strings.ToLower(colons(e3.Serial)), ca.Unspecified); err != nil {
		t.Fatal(err)
	}
	// A second revoke is no error: it finds the work done.
	if r, err := c.Revoke("DSN000002", ca.KeyCompromise); err != nil || !r.Already || r.Completed || !r.Repair.Empty() {
		t.Errorf("second revoke: %+v, %v", r, err)
	}
	if _, err := c.Revoke("nope", ca.KeyCompromise); !errors.Is(err, ca.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	crlCheck := func(cert string) (string, int) {
		return openssl(t, dir, "verify", "-crl_check_all", "-CRLfile", "crl.pem", "-CAfile", "root.crt", "-untrusted", "ca.crt", iss(cert))
	}
	for _, ok := range []string{"server", "DSN000001"} {
		if out, code := crlCheck(ok); code != 0 {
			t.Errorf("crl check %s: %s", ok, out)
		}
	}
	for _, bad := range []string{"DSN000002", "DSN000003"} {
		if out, code := crlCheck(bad); code == 0 || !strings.Contains(out, "revoked") {
			t.Errorf("crl check of revoked %s: exit %d\n%s", bad, code, out)
		}
	}
	out, _ = openssl(t, dir, "crl", "-in", "crl.pem", "-noout", "-text")
	if !strings.Contains(out, "Key Compromise") {
		t.Errorf("CRL lacks the reason:\n%s", out)
	}

	// A revoked name may be issued again; renew supersedes.
	if _, err := c.IssueClient("DSN000002", ca.ClientOptions{}); err != nil {
		t.Errorf("reissue after revoke: %v", err)
	}
	old, _, _ := c.Lookup("DSN000001")
	nw, err := c.Renew("DSN000001", ca.RenewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if certs.SerialHex(nw.Cert) == old.Serial || nw.Cert.Subject.Organization[0] != "Acme" {
		t.Errorf("renewed cert: serial %s org %v", certs.SerialHex(nw.Cert), nw.Cert.Subject.Organization)
	}
	o, _, _ := c.Lookup(old.Serial)
	if !o.Revoked || o.Reason != "superseded" {
		t.Errorf("old cert after renew: %+v", o)
	}
	if out, code := crlCheck("DSN000001"); code != 0 {
		t.Errorf("renewed cert fails the CRL check: %s", out)
	}

	// A second process view replays the same state.
	c2, err := ca.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	l1, _ := c.List()
	l2, _ := c2.List()
	if len(l1) != len(l2) || len(l1) != 6 {
		t.Errorf("list lengths %d and %d, want 6", len(l1), len(l2))
	}
}

func colons(hex string) string {
	var b strings.Builder
	for i := 0; i < len(hex); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(hex[i:min(i+2, len(hex))])
	}
	return b.String()
}

func TestConcurrentIssue(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	const n = 200
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < n; i += 8 {
				id := "dev" + strings.Repeat("0", 4-len(itoa(i))) + itoa(i)
				if _, err := c.IssueClient(id, ca.ClientOptions{}); err != nil {
					errs <- err
				}
			}
		}(w)
	}
	// The same name from two goroutines: exactly one wins.
	var dupOK, dupErr int
	var mu sync.Mutex
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := c.IssueClient("twin", ca.ClientOptions{})
			mu.Lock()
			defer mu.Unlock()
			if err == nil {
				dupOK++
			} else {
				dupErr++
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if dupOK != 1 || dupErr != 1 {
		t.Errorf("twin: %d ok, %d failed", dupOK, dupErr)
	}
	c2, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := c2.List()
	if len(l) != n+1 {
		t.Errorf("index holds %d entries, want %d", len(l), n+1)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
