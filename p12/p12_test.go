package p12_test

import (
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/testutil"
	"mqtls/p12"
)

func issued(t *testing.T) (*certs.Issued, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	if err := ca.Init(dir, ca.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	c, err := ca.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	iss, err := c.IssueClient("DSN000001", ca.ClientOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return iss, dir
}

// TestOracles: OpenSSL 3 (without -legacy) and keytool open both formats
// with their password, see the key and the whole chain, and refuse a wrong
// password.
func TestOracles(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl", "keytool")
	iss, _ := issued(t)
	dir := t.TempDir()
	pw, err := p12.RandomPassword()
	if err != nil {
		t.Fatal(err)
	}
	pwFile := filepath.Join(dir, "pass")
	os.WriteFile(pwFile, []byte(pw), 0o600)
	for _, modern := range []bool{false, true} {
		name := map[bool]string{false: "legacy", true: "modern"}[modern]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			b, err := p12.Encode(iss.Key, iss.Cert, iss.Chain, pw, modern)
			if err != nil {
				t.Fatal(err)
			}
			if p12.IsModern(b) != modern {
				t.Errorf("IsModern = %v", !modern)
			}
			f := filepath.Join(dir, name+".p12")
			os.WriteFile(f, b, 0o600)
			out, code := testutil.Run(t, dir, 30*time.Second, "openssl", "pkcs12", "-info", "-noout", "-in", f, "-passin", "file:"+pwFile)
			if code != 0 {
				t.Fatalf("openssl pkcs12 -info: %s", out)
			}
			want := map[bool]string{false: "pbeWithSHA1And3-KeyTripleDES-CBC", true: "AES-256-CBC"}[modern]
			if !strings.Contains(out, want) {
				t.Errorf("openssl does not report %s:\n%s", want, out)
			}
			if _, code := testutil.Run(t, dir, 30*time.Second, "openssl", "pkcs12", "-info", "-noout", "-in", f, "-passin", "pass:wrong"); code == 0 {
				t.Error("openssl accepted a wrong password")
			}
			out, code = testutil.Run(t, dir, 60*time.Second, "keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", f, "-storepass:file", pwFile)
			if code != 0 {
				t.Fatalf("keytool -list: %s", out)
			}
			if !strings.Contains(out, "PrivateKeyEntry") || !strings.Contains(out, "Certificate chain length: 3") {
				t.Errorf("keytool:\n%s", out)
			}
			k, leaf, chain, err := p12.Decode(b, pw)
			if err != nil || k == nil || !leaf.Equal(iss.Cert) || len(chain) != 2 {
				t.Errorf("decode: %v, chain %d", err, len(chain))
			}
		})
	}
}

func TestPasswords(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for range 50 {
		pw, err := p12.RandomPassword()
		if err != nil {
			t.Fatal(err)
		}
		if len(pw) != p12.PasswordLen || seen[pw] || p12.CheckPassword(pw) != nil {
			t.Fatalf("bad password %q", pw)
		}
		if strings.ContainsAny(pw, "0O1lI") {
			t.Errorf("look-alike in %q", pw)
		}
		seen[pw] = true
	}
	for _, bad := range []string{"", "pässwörd", "tab\there"} {
		if p12.CheckPassword(bad) == nil {
			t.Errorf("CheckPassword(%q) accepted", bad)
		}
	}
	iss, _ := issued(t)
	if _, err := p12.Encode(iss.Key, iss.Cert, iss.Chain, "", false); err == nil || !strings.Contains(err.Error(), "empty") {
		t.Errorf("empty password: %v", err)
	}
	var none []*x509.Certificate
	if _, err := p12.Encode(nil, iss.Cert, none, "x", false); err == nil {
		t.Error("no key: accepted")
	}
}
