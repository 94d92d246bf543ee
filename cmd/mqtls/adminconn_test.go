package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/internal/testutil"
)

// TestAdminPasswordNotOnArgv: the commands that log in as a dynamic
// security admin refuse the password on the command line (-P, or a URL
// with user:password@) before connecting, and do not echo it.
func TestAdminPasswordNotOnArgv(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	if _, errOut, code := runMqtls("ca", "init", "--pki", pki, "--no-password", "--insecure"); code != 0 {
		t.Fatalf("ca init: exit %d: %s", code, errOut)
	}
	// Nothing listens there: a command that got past the check would fail
	// to connect (exit 1), not exit 2.
	p := fmt.Sprint(testutil.FreePort(t))
	const secret = "s3cret-admin-pw"
	url := "mqtt://admin:" + secret + "@127.0.0.1:" + p + "/t"
	cases := map[string][]string{
		"dynsec -P":      {"dynsec", "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", secret, "listClients"},
		"dynsec -L":      {"dynsec", "-L", url, "listClients"},
		"device list -P": {"device", "list", "--pki", pki, "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", secret},
		"device list -L": {"device", "list", "--pki", pki, "-L", url},
		"topic acl -P":   {"topic", "acl", exampleScheme, "--apply", "-h", "127.0.0.1", "-p", p, "-u", "admin", "-P", secret},
	}
	for name, args := range cases {
		t.Run(name, func(t *testing.T) {
			out, errOut, code := runMqtls(args...)
			if code != 2 || !strings.Contains(errOut, "visible to every user") {
				t.Errorf("exit %d, stderr %q", code, errOut)
			}
			if strings.Contains(out+errOut, secret) {
				t.Errorf("the password is echoed: %q %q", out, errOut)
			}
		})
	}
}
