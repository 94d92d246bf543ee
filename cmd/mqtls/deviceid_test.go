package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeviceIDEveryEntryPoint: an id that `topic lint` would call an error
// inside devices/ID/# (a space, a wildcard, a non-ASCII letter) is refused
// with one line by every command that takes a device id, and nothing is
// written; a CSV row with one is reported by its line and the other rows go
// ahead.
func TestDeviceIDEveryEntryPoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("admin-pw\n"), 0o600)
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	mqOK(t, dir, nil, "dynsec", "init", "ds.json", "admin", "--password-file", "admin.pw")
	mqOK(t, dir, nil, "dynsec", "-f", "ds.json", "createRole", "device")
	openssl(t, dir, "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", "spaced.key", "-subj", "/CN=bad id", "-out", "spaced.csr")
	openssl(t, dir, "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", "good.key", "-subj", "/CN=DSN000900", "-out", "good.csr")
	before := treeSum(t, dir)

	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"cert client space", []string{"cert", "client", "bad id"}, 2, `invalid device id "bad id": it must not contain whitespace (U+0020)`},
		{"cert client utf8", []string{"cert", "client", "capteur-été"}, 2, "it must be printable ASCII"},
		{"cert client wildcard", []string{"cert", "client", "dev+1"}, 2, "'/', '+' or '#'"},
		{"cert server name", []string{"cert", "server", "--name", "edge 1", "--host", "localhost"}, 2, "whitespace"},
		{"cert sign --name", []string{"cert", "sign", "good.csr", "--name", "bad id"}, 2, "--name: invalid device id"},
		{"cert sign CN", []string{"cert", "sign", "spaced.csr"}, 1, `invalid device id "bad id"`},
		{"device add", []string{"device", "add", "bad id", "-f", "ds.json"}, 2, `invalid device id "bad id"`},
		{"device add --csr", []string{"device", "add", "--csr", "spaced.csr", "-f", "ds.json"}, 1, `invalid device id "bad id"`},
		{"device add --csr id", []string{"device", "add", "bad id", "--csr", "good.csr", "-f", "ds.json"}, 2, `invalid device id "bad id"`},
		{"device bundle", []string{"device", "bundle", "bad id", "--host", "localhost", "-f", "ds.json"}, 2, `invalid device id "bad id"`},
		{"device renew", []string{"device", "renew", "bad id", "-f", "ds.json"}, 2, `invalid device id "bad id"`},
		{"device revoke", []string{"device", "revoke", "bad id", "-f", "ds.json"}, 2, `invalid device id "bad id"`},
		{"p12", []string{"p12", "bad id"}, 2, `invalid device id "bad id"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := mq(t, dir, nil, tc.args...)
			lines := strings.Split(strings.TrimSpace(errOut), "\n")
			if code != tc.code || len(lines) != 1 || !strings.HasPrefix(lines[0], "mqtls: error: ") || !strings.Contains(lines[0], tc.want) {
				t.Errorf("exit %d, want %d with one error line holding %q\nstdout: %s\nstderr: %s", code, tc.code, tc.want, out, errOut)
			}
			if after := treeSum(t, dir); after != before {
				t.Errorf("files changed:\n%s\nwant:\n%s", after, before)
			}
		})
	}

	// CSV import: the bad rows are named with their lines, the good one is onboarded.
	os.WriteFile(filepath.Join(dir, "devices.csv"), []byte("id,role\nDSN000901,device\nbad id,device\ncafé,device\n"), 0o644)
	out, errOut, code := mq(t, dir, nil, "device", "import", "devices.csv", "-f", "ds.json")
	for _, want := range []string{`line 3: bad id: invalid device id "bad id": it must not contain whitespace`, "line 4: café: invalid device id"} {
		if !strings.Contains(errOut+out, want) {
			t.Errorf("import output lacks %q\nstdout: %s\nstderr: %s", want, out, errOut)
		}
	}
	if code != 1 {
		t.Errorf("import exit %d, want 1", code)
	}
	if _, err := os.Stat(filepath.Join(dir, "pki/issued/DSN000901.p12")); err != nil {
		t.Errorf("the good row was not onboarded: %v", err)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "pki/issued/*caf*")); len(m) > 0 {
		t.Errorf("a bad row was written: %v", m)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "pki/issued/bad*")); len(m) > 0 {
		t.Errorf("a bad row was written: %v", m)
	}
}
