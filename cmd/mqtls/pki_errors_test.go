package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPKIBadInput: every bad input gets exit 2 (misuse) or 1 (failure), one
// "mqtls: error:" line that says what to do, and leaves no file behind.
func TestPKIBadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pass"), []byte("a long CA password\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "empty.pass"), nil, 0o600)
	os.WriteFile(filepath.Join(dir, "afile"), []byte("x"), 0o644)
	good := []string{"MQTLS_CA_PASSWORD=a long CA password"}
	mqOK(t, dir, nil, "ca", "init", "--ca-password-file", "ca.pass")
	mqOK(t, dir, good, "cert", "client", "DSN000001")
	rootBefore, _ := os.ReadFile(filepath.Join(dir, "pki/root.crt"))

	// A second PKI with a damaged index line.
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure", "--pki", "bad")
	mqOK(t, dir, nil, "cert", "client", "d1", "--pki", "bad")
	mqOK(t, dir, nil, "cert", "client", "d2", "--pki", "bad")
	badIdx := filepath.Join(dir, "bad/index.jsonl")
	b, _ := os.ReadFile(badIdx)
	corrupt := bytes.Replace(b, []byte(`"name":"d1"`), []byte(`"name":"d9"`), 1)
	os.WriteFile(badIdx, corrupt, 0o644)

	cases := []struct {
		name   string
		env    []string
		args   []string
		code   int
		want   string // in the error line
		absent string // a path that must not exist afterwards
	}{
		{"CA missing", good, []string{"cert", "client", "X1", "--pki", "nowhere"}, 1, "no CA in nowhere", "nowhere"},
		{"wrong CA password", []string{"MQTLS_CA_PASSWORD=wrong one"}, []string{"cert", "client", "X2"}, 1, "wrong CA password", "pki/issued/X2.crt"},
		{"no CA password", nil, []string{"cert", "client", "X3"}, 1, "no terminal", "pki/issued/X3.crt"},
		{"empty password file", nil, []string{"cert", "client", "X4", "--ca-password-file", "empty.pass"}, 1, "is empty", "pki/issued/X4.crt"},
		{"already issued", good, []string{"cert", "client", "DSN000001"}, 1, "already issued", ""},
		{"id empty", good, []string{"cert", "client", ""}, 2, "it is empty", ""},
		{"id slash", good, []string{"cert", "client", "a/b"}, 2, "must not contain '/'", "pki/issued/a"},
		{"id plus", good, []string{"cert", "client", "a+b"}, 2, "must not contain '/', '+' or '#'", "pki/issued/a+b.crt"},
		{"id hash", good, []string{"cert", "client", "a#b"}, 2, "must not contain '/', '+' or '#'", "pki/issued/a#b.crt"},
		{"id control", good, []string{"cert", "client", "a\x01b"}, 2, "control characters", ""},
		{"id too long", good, []string{"cert", "client", strings.Repeat("d", 65)}, 2, "65 bytes long, the limit is 64", ""},
		{"missing id", good, []string{"cert", "client"}, 2, "missing device id", ""},
		{"ip not an IP", good, []string{"cert", "server", "--ip", "999.1.1.1"}, 2, `--ip "999.1.1.1" is not an IP address`, "pki/issued/server.crt"},
		{"server without names", good, []string{"cert", "server"}, 2, "needs at least one --host or --ip", ""},
		{"server too long", good, []string{"cert", "server", "--host", "h", "--days", "900"}, 2, "at most 825 days", ""},
		{"past the CA", good, []string{"cert", "client", "X5", "--days", "4000"}, 1, "past the issuing CA's expiry", "pki/issued/X5.crt"},
		{"unknown key type", good, []string{"cert", "client", "X6", "--key-type", "dsa"}, 2, `unknown key type "dsa"`, ""},
		{"unknown CA key type", nil, []string{"ca", "init", "--key-type", "ed448", "--pki", "k"}, 2, "unknown key type", "k"},
		{"unwritable folder", nil, []string{"ca", "init", "--no-password", "--insecure", "--pki", "afile/pki"}, 1, "not a directory", ""},
		{"no-password alone", nil, []string{"ca", "init", "--no-password", "--pki", "np"}, 2, "'--no-password' requires the '--insecure' flag", "np"},
		{"CA exists", nil, []string{"ca", "init", "--no-password", "--insecure"}, 1, "already exists", ""},
		{"corrupt index issue", nil, []string{"cert", "client", "d3", "--pki", "bad"}, 1, "corrupt index", "bad/issued/d3.crt"},
		{"corrupt index list", nil, []string{"cert", "list", "--pki", "bad"}, 1, "line 2", ""},
		{"revoke unknown", good, []string{"cert", "revoke", "nobody"}, 1, "no such certificate", ""},
		{"revoke bad reason", good, []string{"cert", "revoke", "DSN000001", "--reason", "bored"}, 2, "unknown revocation reason", ""},
		{"renew unknown", good, []string{"cert", "renew", "nobody"}, 1, "no such certificate", ""},
		{"p12 unknown", nil, []string{"p12", "nobody"}, 1, "no such certificate", "pki/issued/nobody.p12"},
		{"p12 empty password", nil, []string{"p12", "DSN000001", "--password-file", "empty.pass"}, 1, "is empty", "pki/issued/DSN000001.p12"},
		{"inspect a key", nil, []string{"cert", "inspect", "pki/issued/DSN000001.key"}, 1, "is this the .key file", ""},
		{"inspect unknown", nil, []string{"cert", "inspect", "nobody"}, 1, `no certificate named "nobody"`, ""},
		{"p12 out exists", nil, []string{"p12", "DSN000001", "--out", "afile"}, 2, "afile exists: pass --force", "pki/issued/DSN000001.p12"},
		{"bad period", nil, []string{"cert", "list", "--expiring", "soon"}, 2, "not a period", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			out, errOut, code := mq(t, dir, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tc.code, out, errOut)
			}
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(errOut), "\n") {
				if strings.HasPrefix(l, "mqtls: error: ") {
					errLines = append(errLines, l)
				}
			}
			if len(errLines) != 1 || !strings.Contains(errLines[0], tc.want) {
				t.Errorf("stderr %q, want one error line with %q", errOut, tc.want)
			}
			if strings.Contains(errOut, "a long CA password") || strings.Contains(errOut, "wrong one") {
				t.Errorf("a password leaked into stderr: %s", errOut)
			}
			if tc.absent != "" {
				if _, err := os.Stat(filepath.Join(dir, tc.absent)); err == nil {
					t.Errorf("%s was written", tc.absent)
				}
			}
		})
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "pki/root.crt")); !bytes.Equal(after, rootBefore) {
		t.Error("the existing CA was overwritten")
	}
	if after, _ := os.ReadFile(badIdx); !bytes.Equal(after, corrupt) {
		t.Error("the corrupt index was modified")
	}
}
