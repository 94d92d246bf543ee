package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// A flag of 'mqtls dynsec' written after one of its commands, on every
// command: exit 2, one error line and a hint with the command line in the
// right order, nothing written; never the help with exit 0. The hint, run as
// written, does what was meant.
func TestDynsecOptionAfterCommand(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "pw"), []byte("secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqOK(t, dir, nil, "dynsec", "init", "d.json", "admin", "--password-file", "pw")
	for _, args := range [][]string{{"createClient", "c1", "--no-password"}, {"createGroup", "g1"}, {"createRole", "r1"}} {
		mqOK(t, dir, nil, append([]string{"dynsec", "-f", "d.json"}, args...)...)
	}
	// The commands in order, each with its own flags and its arguments; run
	// in this order on d.json, each one succeeds.
	type line struct{ name, flags, args string }
	outDir := filepath.Join(t.TempDir(), "out")
	lines := []line{
		{"export", "--to emqx --port 8884 --out " + outDir, ""},
		{"init", "--password-file pw", "new.json admin"},
		{"getDefaultACLAccess", "", ""},
		{"setDefaultACLAccess", "", "publishClientSend allow"},
		{"check", "-c id1", "c1 devices/c1/x pub"},
		{"getAnonymousGroup", "", ""},
		{"setAnonymousGroup", "", "g1"},
		{"createClient", "-c id2", "c2"},
		{"deleteClient", "", "c2"},
		{"setClientPassword", "--new-password-file pw", "c1"},
		{"setClientId", "", "c1 id1"},
		{"addClientRole", "", "c1 r1 2"},
		{"removeClientRole", "", "c1 r1"},
		{"getClient", "--json", "c1"},
		{"listClients", "", "10"},
		{"enableClient", "", "c1"},
		{"disableClient", "", "c1"},
		{"createGroup", "", "g2"},
		{"deleteGroup", "", "g2"},
		{"addGroupRole", "", "g1 r1 1"},
		{"removeGroupRole", "", "g1 r1"},
		{"addGroupClient", "", "g1 c1"},
		{"removeGroupClient", "", "g1 c1"},
		{"getGroup", "", "g1"},
		{"listGroups", "", ""},
		{"createRole", "", "r2"},
		{"deleteRole", "", "r2"},
		{"addRoleACL", "", "r1 publishClientSend devices/%u/# allow 5"},
		{"removeRoleACL", "", "r1 publishClientSend devices/%u/#"},
		{"getRole", "", "r1"},
		{"listRoles", "", ""},
	}
	var names, covered []string
	// Not newApp: it sets urfave's globals, and other tests run in parallel.
	for _, c := range dynsecCmd().Subcommands {
		names = append(names, c.Name)
	}
	for _, l := range lines {
		covered = append(covered, l.name)
	}
	slices.Sort(names)
	slices.Sort(covered)
	if !reflect.DeepEqual(names, covered) {
		t.Fatalf("the table covers %q, the dynsec commands are %q", covered, names)
	}

	for _, l := range lines {
		flags, args := strings.Fields(l.flags), strings.Fields(l.args)
		for _, v := range []struct {
			before, misplaced []string
			atEnd             bool
		}{
			// With -f before, a misplaced connection flag taken as an
			// argument or ignored would change the file.
			{[]string{"-f", "d.json"}, []string{"-h", "127.0.0.1"}, true},
			{nil, []string{"-i", "cid", "-u", "admin"}, false},
			{nil, []string{"-f", "d.json"}, true},
		} {
			argv := append([]string{"dynsec"}, v.before...)
			argv = append(argv, l.name)
			if v.atEnd {
				argv = append(append(append(argv, flags...), args...), v.misplaced...)
			} else {
				argv = append(append(append(argv, v.misplaced...), args...), flags...)
			}
			before := snapshotDir(t, dir)
			out, errOut, code := mq(t, dir, nil, argv...)
			errLines := strings.Split(strings.TrimSuffix(errOut, "\n"), "\n")
			var misplaced []string
			for _, m := range v.misplaced {
				if strings.HasPrefix(m, "-") {
					misplaced = append(misplaced, m)
				}
			}
			wantErr := "mqtls: error: dynsec " + l.name + ": " + misplaced[0] + " is an option of 'mqtls dynsec' and goes before '" + l.name + "'"
			if len(misplaced) == 2 {
				wantErr = "mqtls: error: dynsec " + l.name + ": " + misplaced[0] + " and " + misplaced[1] + " are options of 'mqtls dynsec' and go before '" + l.name + "'"
			}
			if code != 2 || out != "" || len(errLines) != 2 || errLines[0] != wantErr {
				t.Errorf("mqtls %q: exit %d, want 2\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", argv, code, out, errOut, wantErr)
				continue
			}
			if after := snapshotDir(t, dir); !reflect.DeepEqual(before, after) {
				t.Errorf("mqtls %q changed the folder", argv)
			}
			hint, ok := strings.CutPrefix(errLines[1], "mqtls: hint: write it as: ")
			if !ok {
				t.Errorf("mqtls %q: hint %q", argv, errLines[1])
				continue
			}
			want := append([]string{"mqtls", "dynsec"}, v.before...)
			want = append(append(want, v.misplaced...), l.name)
			want = append(append(want, flags...), args...)
			got := shellWords(hint)
			if !reflect.DeepEqual(got, want) {
				t.Errorf("mqtls %q: hint runs %q, want %q", argv, got, want)
				continue
			}
			if v.before == nil && v.misplaced[0] == "-f" {
				// The hint as written is the command that was meant.
				if _, errOut, code := mq(t, dir, nil, got[1:]...); code != 0 {
					t.Errorf("the hint %q: exit %d\n%s", hint, code, errOut)
				}
			}
		}
	}
	// A lone -h after the command is the host left out (mosquitto_ctrl's
	// -h is the host; help is --help): the same refusal, never the help
	// with exit 0.
	for _, l := range lines {
		argv := append(append(append([]string{"dynsec", "-f", "d.json", l.name}, strings.Fields(l.flags)...), strings.Fields(l.args)...), "-h")
		before := snapshotDir(t, dir)
		out, errOut, code := mq(t, dir, nil, argv...)
		want := "mqtls: error: dynsec " + l.name + ": -h needs the broker's host and goes before '" + l.name + "' (help is --help)\n" +
			"mqtls: hint: write it as: " + strings.Join(append(append([]string{"mqtls", "dynsec", "-f", "d.json", "-h", "HOST", l.name}, strings.Fields(l.flags)...), strings.Fields(l.args)...), " ") + "\n"
		if l.name == "addRoleACL" || l.name == "removeRoleACL" {
			want = strings.Replace(want, "devices/%u/#", "'devices/%u/#'", 1)
		}
		if code != 2 || out != "" || errOut != want {
			t.Errorf("mqtls %q: exit %d, want 2\nstdout:\n%s\nstderr:\n%s\nwant:\n%s", argv, code, out, errOut, want)
		}
		if after := snapshotDir(t, dir); !reflect.DeepEqual(before, after) {
			t.Errorf("mqtls %q changed the folder", argv)
		}
	}
	for _, f := range []string{filepath.Join(dir, "new.json"), outDir} {
		if _, err := os.Stat(f); err != nil {
			t.Errorf("a hint did not create %s: %v", filepath.Base(f), err)
		}
	}
}

// The hint does not repeat a password given on the command line.
func TestDynsecOptionAfterCommandHidesPassword(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	_, errOut, code := mq(t, dir, nil, "dynsec", "-L", "mqtt://admin:s3cr3t@127.0.0.1:1", "listRoles", "-P", "s3cr3t", "-h", "x")
	if code != 2 || strings.Contains(errOut, "s3cr3t") || !strings.Contains(errOut, "write it as: mqtls dynsec -L URL -P PASSWORD -h x listRoles\n") {
		t.Errorf("exit %d\n%s", code, errOut)
	}
}

// snapshotDir is every file of dir with its content.
func snapshotDir(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}
