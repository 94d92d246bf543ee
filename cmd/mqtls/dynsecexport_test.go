package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDynsecExport: export --to emqx, emqx-db and hivemq write their files
// (0600, in a folder created 0700) from a file made by dynsec init and the
// ctrl commands, print the notes, and refuse an unknown target with one
// line and exit 2, writing nothing.
func TestDynsecExport(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("adminpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqOK(t, dir, nil, "dynsec", "init", "d.json", "admin", "--password-file", "admin.pw")
	for _, args := range [][]string{
		{"createRole", "device"},
		{"addRoleACL", "device", "publishClientSend", "devices/%u/#", "allow"},
		{"addRoleACL", "device", "publishClientReceive", "devices/%u/cmd/#", "allow"},
		{"createClient", "DSN000001"},
		{"addClientRole", "DSN000001", "device"},
	} {
		mqOK(t, dir, nil, append([]string{"dynsec", "-f", "d.json"}, args...)...)
	}
	for _, c := range []struct{ target, file, want string }{
		{"emqx", "acl.conf", `{allow, {username, "DSN000001"}, publish, ["devices/DSN000001/#"]}.`},
		{"emqx", "emqx.conf", `cacertfile = "/etc/emqx/pki/chain.pem"`},
		{"emqx-db", "authz-users.json", `"topic": "devices/DSN000001/#"`},
		{"emqx-db", "emqx.conf", `{type = built_in_database, enable = true}`},
		{"hivemq", "credentials.xml", "<topic>devices/${{username}}/#</topic>"},
		{"hivemq", "config.xml", "<path>/etc/emqx/pki/issued/server.p12</path>"},
	} {
		out := mqOK(t, dir, nil, "dynsec", "-f", "d.json", "export", "--to", c.target, "--out", c.target, "--certs-dir", "/etc/emqx/pki")
		if !strings.Contains(out, "wrote "+filepath.Join(c.target, c.file)+"\n") || !strings.Contains(out, "note: client DSN000001: 1 publishClientReceive ACLs not exported") {
			t.Errorf("export --to %s prints\n%s", c.target, out)
		}
		path := filepath.Join(dir, c.target, c.file)
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(data), c.want) {
			t.Errorf("%s lacks %s:\n%s", path, c.want, data)
		}
		if p := perm(t, path); p != 0o600 {
			t.Errorf("%s: mode %v, want 0600", path, p)
		}
		if p := perm(t, filepath.Dir(path)); p != 0o700 {
			t.Errorf("%s: mode %v, want 0700", filepath.Dir(path), p)
		}
	}
	_, errOut, code := mq(t, dir, nil, "dynsec", "-f", "d.json", "export", "--to", "vernemq", "--out", "v")
	if code != 2 || !strings.Contains(errOut, `--to "vernemq": want emqx, emqx-db or hivemq`) || strings.Count(strings.TrimSpace(errOut), "\n") > 1 {
		t.Errorf("unknown target: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "v")); !os.IsNotExist(err) {
		t.Errorf("an unknown target created its folder: %v", err)
	}
}
