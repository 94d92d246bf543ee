package main

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"mqtls/internal/testutil"
)

// TestCAPasswordEverywhere: every command that uses the PKI folder takes
// --ca-password-file, and $MQTLS_CA_PASSWORD_FILE stands for it, so that a
// script such as scripts/onboard-device.sh runs without a terminal against an
// encrypted CA.
func TestCAPasswordEverywhere(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "ca.pass"), []byte("a long CA password\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("admin-pw\n"), 0o600)
	mqOK(t, dir, nil, "ca", "init", "--ca-password-file", "ca.pass")
	mqOK(t, dir, nil, "dynsec", "init", "dynamic-security.json", "admin", "--password-file", "admin.pw")
	mqOK(t, dir, nil, "dynsec", "-f", "dynamic-security.json", "createRole", "device")
	env := []string{"MQTLS_CA_PASSWORD_FILE=ca.pass"}

	// Without either, no terminal: the error names both ways.
	if _, errOut, code := mq(t, dir, nil, "cert", "client", "X0"); code != 1 || !strings.Contains(errOut, "$MQTLS_CA_PASSWORD_FILE") {
		t.Errorf("no password: exit %d, %s", code, errOut)
	}
	mqOK(t, dir, env, "cert", "client", "X1")
	mqOK(t, dir, env, "device", "add", "X2", "-f", "dynamic-security.json")
	mqOK(t, dir, env, "cert", "renew", "X1")
	for _, args := range [][]string{
		{"p12", "X1"},
		{"cert", "list"},
		{"cert", "inspect", "X1"},
		{"ca", "show"},
		{"ca", "crl"},
		{"device", "list", "-f", "dynamic-security.json"},
		{"device", "bundle", "X2", "--out", "bundles"},
		{"device", "renew", "X2"},
		{"cert", "client", "X3"},
	} {
		mqOK(t, dir, nil, append(args, "--ca-password-file", "ca.pass")...)
	}

	// The onboarding script, with the CA password in the environment only.
	testutil.Need(t, "bash")
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "onboard-device.sh"), "DSN000001")
	wd, _ := os.Getwd()
	cmd.Args[1] = filepath.Join(wd, cmd.Args[1])
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "MQTLS="+testutil.Mqtls(t), "MQTLS_PKI=", "MQTLS_CA_PASSWORD=", "MQTLS_CA_PASSWORD_FILE=ca.pass")
	cmd.Stdin = nil
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "DSN000001: added") {
		t.Fatalf("onboard-device.sh: %v\n%s", err, out)
	}
	pass, _ := os.ReadFile(filepath.Join(dir, "pki/issued/DSN000001.p12.pass"))
	if len(pass) == 0 || strings.Contains(string(out), strings.TrimSpace(string(pass))) {
		t.Errorf("the script printed the p12 password (or there is none):\n%s", out)
	}
}

// TestEveryPKICommandTakesTheCAPasswordFile: a command with --pki takes
// --ca-password-file too, so that one set of flags works with every command
// (commands added later included).
func TestEveryPKICommandTakesTheCAPasswordFile(t *testing.T) {
	t.Parallel()
	var walk func(path string, cmds []*cli.Command)
	walk = func(path string, cmds []*cli.Command) {
		for _, c := range cmds {
			has := map[string]bool{}
			for _, f := range c.Flags {
				for _, n := range f.Names() {
					has[n] = true
				}
			}
			if has["pki"] && !has["ca-password-file"] {
				t.Errorf("mqtls%s %s has --pki but not --ca-password-file", path, c.Name)
			}
			walk(path+" "+c.Name, c.Subcommands)
		}
	}
	walk("", newApp(io.Discard, io.Discard).Commands)
}

// TestBenchLongFlags: bench takes no short letter that pub and sub give
// another meaning; given one, it names its long flag.
func TestBenchLongFlags(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		hint string
	}{
		{[]string{"bench", "pubsub", "-P", "3"}, "use --pairs here; in pub and sub -P is the password"},
		{[]string{"bench", "pubsub", "-q"}, "use --qos or --quiet here; in pub and sub -q is the QoS"},
		{[]string{"bench", "fanout", "-d", "1s"}, "use --duration here; in pub and sub -d is debug"},
		{[]string{"bench", "fanout", "-n", "3"}, "use --subscribers here"},
		{[]string{"bench", "connect", "-c", "3"}, "use --connections here"},
		{[]string{"bench", "connect", "-k", "3"}, "use --concurrency here; in pub and sub -k is the keepalive"},
	} {
		_, errOut, code := mq(t, t.TempDir(), nil, tc.args...)
		if code != 2 || !strings.Contains(errOut, "mqtls: error: "+strings.Join(tc.args[:2], " ")+": unknown flag "+tc.args[2]+"\n") || !strings.Contains(errOut, "mqtls: hint: "+tc.hint) {
			t.Errorf("%q: exit %d\n%s", tc.args, code, errOut)
		}
	}
}
