package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// p12Serial is the serial of the leaf in a p12, as openssl reads it with
// the password file, and keytool's listing of the same bundle.
func p12Serial(t *testing.T, dir, p12, passFile string) string {
	t.Helper()
	leaf := filepath.Join(t.TempDir(), "leaf.pem")
	openssl(t, dir, "pkcs12", "-in", p12, "-passin", "file:"+passFile, "-nokeys", "-clcerts", "-out", leaf)
	serial := strings.TrimSpace(strings.TrimPrefix(openssl(t, dir, "x509", "-in", leaf, "-noout", "-serial"), "serial="))
	out, code := testutil.Run(t, dir, 60*time.Second, "keytool", "-list", "-v", "-storetype", "PKCS12", "-keystore", p12, "-storepass:file", passFile)
	if code != 0 || !strings.Contains(out, "PrivateKeyEntry") {
		t.Fatalf("keytool cannot read %s:\n%s", p12, out)
	}
	if want := "Serial number: " + strings.TrimLeft(strings.ToLower(serial), "0"); !strings.Contains(out, want) {
		t.Errorf("keytool does not show %q in %s:\n%s", want, p12, out)
	}
	return serial
}

func crtSerial(t *testing.T, dir, crt string) string {
	t.Helper()
	return strings.TrimSpace(strings.TrimPrefix(openssl(t, dir, "x509", "-in", crt, "-noout", "-serial"), "serial="))
}

// TestRenewRewritesP12: cert renew and device renew rewrite an existing p12
// with the new certificate, in its form and with its password unless told
// otherwise; openssl and keytool are the judges.
func TestRenewRewritesP12(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl", "keytool")
	dir := t.TempDir()
	iss := func(n, ext string) string { return filepath.Join("pki/issued", n+ext) }
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(dir, p))
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("admin-pw\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "chosen.pw"), []byte("a chosen p12 password\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "chosen2.pw"), []byte("another chosen password\n"), 0o600)
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")

	t.Run("same password", func(t *testing.T) {
		mqOK(t, dir, nil, "cert", "client", "D1")
		mqOK(t, dir, nil, "p12", "D1")
		pass := read(iss("D1", ".p12.pass"))
		old := p12Serial(t, dir, iss("D1", ".p12"), iss("D1", ".p12.pass"))
		out := mqOK(t, dir, nil, "cert", "renew", "D1", "--grace", "0")
		if !strings.Contains(out, "password unchanged, in pki/issued/D1.p12.pass") || strings.Contains(out, strings.TrimSpace(pass)) {
			t.Errorf("renew output:\n%s", out)
		}
		if read(iss("D1", ".p12.pass")) != pass {
			t.Error("the password file changed")
		}
		got := p12Serial(t, dir, iss("D1", ".p12"), iss("D1", ".p12.pass"))
		if got == old || got != crtSerial(t, dir, iss("D1", ".crt")) {
			t.Errorf("the p12 holds serial %s, the old one was %s, the new certificate %s", got, old, crtSerial(t, dir, iss("D1", ".crt")))
		}
		// --new-password: a new random one, shown only with --show-password
		out = mqOK(t, dir, nil, "cert", "renew", "D1", "--new-password", "--show-password")
		newPass := read(iss("D1", ".p12.pass"))
		if newPass == pass || !strings.Contains(out, "password: "+strings.TrimSpace(newPass)) {
			t.Errorf("--new-password: output:\n%s", out)
		}
		if got := p12Serial(t, dir, iss("D1", ".p12"), iss("D1", ".p12.pass")); got != crtSerial(t, dir, iss("D1", ".crt")) {
			t.Error("after --new-password the p12 does not hold the new certificate")
		}
	})

	t.Run("modern stays modern", func(t *testing.T) {
		mqOK(t, dir, nil, "cert", "client", "D2")
		mqOK(t, dir, nil, "p12", "D2", "--modern")
		out := mqOK(t, dir, nil, "cert", "renew", "D2")
		if !strings.Contains(out, "modern AES-256") {
			t.Errorf("renew output:\n%s", out)
		}
		info, code := testutil.Run(t, dir, 30*time.Second, "openssl", "pkcs12", "-info", "-noout", "-in", iss("D2", ".p12"), "-passin", "file:"+iss("D2", ".p12.pass"))
		if code != 0 || !strings.Contains(info, "AES-256-CBC") {
			t.Errorf("the renewed p12 is not modern:\n%s", info)
		}
	})

	t.Run("chosen password", func(t *testing.T) {
		mqOK(t, dir, nil, "cert", "client", "D3")
		mqOK(t, dir, nil, "p12", "D3", "--password-file", "chosen.pw")
		before := treeSum(t, dir)
		_, errOut, code := mq(t, dir, nil, "cert", "renew", "D3")
		if code != 1 || !strings.Contains(errOut, "has a chosen password") || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
			t.Errorf("exit %d, stderr %s", code, errOut)
		}
		if treeSum(t, dir) != before {
			t.Error("a refused renewal changed files")
		}
		out := mqOK(t, dir, nil, "cert", "renew", "D3", "--new-password-file", "chosen2.pw")
		if !strings.Contains(out, "password from chosen2.pw") {
			t.Errorf("renew output:\n%s", out)
		}
		if got := p12Serial(t, dir, iss("D3", ".p12"), "chosen2.pw"); got != crtSerial(t, dir, iss("D3", ".crt")) {
			t.Error("the p12 does not hold the new certificate")
		}
		if _, err := os.Stat(filepath.Join(dir, iss("D3", ".p12.pass"))); err == nil {
			t.Error("a .p12.pass appeared beside a chosen password")
		}
	})

	t.Run("no p12", func(t *testing.T) {
		mqOK(t, dir, nil, "cert", "client", "D4")
		if out := mqOK(t, dir, nil, "cert", "renew", "D4"); strings.Contains(out, "p12") {
			t.Errorf("renew wrote a p12:\n%s", out)
		}
		if _, err := os.Stat(filepath.Join(dir, iss("D4", ".p12"))); err == nil {
			t.Error("renew made a p12 that did not exist")
		}
	})

	t.Run("device renew", func(t *testing.T) {
		mqOK(t, dir, nil, "dynsec", "init", "ds.json", "admin", "--password-file", "admin.pw")
		mqOK(t, dir, nil, "dynsec", "-f", "ds.json", "createRole", "device")
		out := mqOK(t, dir, nil, "device", "add", "D5", "-f", "ds.json")
		pass := read(iss("D5", ".p12.pass"))
		if strings.Contains(out, strings.TrimSpace(pass)) {
			t.Errorf("device add printed the password without --show-password:\n%s", out)
		}
		out = mqOK(t, dir, nil, "device", "renew", "D5", "-f", "ds.json")
		if read(iss("D5", ".p12.pass")) != pass || strings.Contains(out, strings.TrimSpace(pass)) || !strings.Contains(out, "password unchanged") {
			t.Errorf("device renew changed or printed the password:\n%s", out)
		}
		if got := p12Serial(t, dir, iss("D5", ".p12"), iss("D5", ".p12.pass")); got != crtSerial(t, dir, iss("D5", ".crt")) {
			t.Error("the p12 does not hold the new certificate")
		}
		out = mqOK(t, dir, nil, "device", "renew", "D5", "-f", "ds.json", "--new-password", "--show-password")
		if p := read(iss("D5", ".p12.pass")); p == pass || !strings.Contains(out, "password: "+strings.TrimSpace(p)) {
			t.Errorf("device renew --new-password --show-password:\n%s", out)
		}
	})

	t.Run("server names", func(t *testing.T) {
		out := mqOK(t, dir, nil, "cert", "server", "localhost", "127.0.0.1")
		if !strings.Contains(out, "names: localhost, 127.0.0.1") {
			t.Errorf("cert server output:\n%s", out)
		}
		out = mqOK(t, dir, nil, "cert", "renew", "server", "--host", "localhost", "--host", "extra.local", "--ip", "127.0.0.1")
		if !strings.Contains(out, "names: localhost, extra.local, 127.0.0.1") {
			t.Errorf("renew output:\n%s", out)
		}
		san := openssl(t, dir, "x509", "-in", iss("server", ".crt"), "-noout", "-ext", "subjectAltName")
		if !strings.Contains(san, "DNS:localhost, DNS:extra.local, IP Address:127.0.0.1") {
			t.Errorf("openssl: %s", san)
		}
		// renewed again without names: the new ones are kept
		mqOK(t, dir, nil, "cert", "renew", "server")
		if san := openssl(t, dir, "x509", "-in", iss("server", ".crt"), "-noout", "-ext", "subjectAltName"); !strings.Contains(san, "DNS:extra.local") {
			t.Errorf("a second renewal lost the names: %s", san)
		}
		if _, errOut, code := mq(t, dir, nil, "cert", "renew", "D4", "--host", "x.local"); code != 1 || !strings.Contains(errOut, "only a server certificate's names change") {
			t.Errorf("--host on a device certificate: exit %d, %s", code, errOut)
		}
	})
}
