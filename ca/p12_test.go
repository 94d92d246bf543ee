package ca_test

import (
	"os"
	"path/filepath"
	"testing"

	"mqtls/ca"
)

// TestP12PasswordFileNeverStale: the .pass file beside a bundle always
// opens it. A chosen password removes an older random one, and a failed
// export leaves the old password file as it was.
func TestP12PasswordFileNeverStale(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	if _, err := c.IssueClient("dev1", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	r1, err := c.ExportP12("dev1", ca.P12Options{})
	if err != nil || r1.PasswordPath == "" {
		t.Fatalf("random export: %+v %v", r1, err)
	}
	r2, err := c.ExportP12("dev1", ca.P12Options{Password: "chosen-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(r1.PasswordPath); !os.IsNotExist(err) {
		t.Errorf("after an export with a chosen password the old random password file is still there (%v)", err)
	}
	if _, code := openssl(t, "", "pkcs12", "-info", "-noout", "-legacy", "-in", r2.Path, "-passin", "pass:chosen-password-1"); code != 0 {
		t.Error("openssl cannot open the bundle with the chosen password")
	}

	// The caller's own password file beside the bundle is kept.
	own := r2.Path + ".pass"
	if err := os.WriteFile(own, []byte("chosen-password-2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExportP12("dev1", ca.P12Options{Password: "chosen-password-2"}); err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(own); err != nil || string(b) != "chosen-password-2\n" {
		t.Errorf("a password file holding the chosen password: %q %v", b, err)
	}

	// A bundle path that cannot be replaced (a folder with a file in it):
	// the export fails and the password file beside it is untouched.
	out := filepath.Join(t.TempDir(), "phone.p12")
	if err := os.MkdirAll(filepath.Join(out, "x"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out+".pass", []byte("old-password\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := c.ExportP12("dev1", ca.P12Options{Out: out}); err == nil {
		t.Fatal("export over a folder succeeded")
	}
	if b, err := os.ReadFile(out + ".pass"); err != nil || string(b) != "old-password\n" {
		t.Errorf("after a failed export the password file holds %q (%v), want the old one", b, err)
	}
}
