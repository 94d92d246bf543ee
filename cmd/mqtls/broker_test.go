package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestBrokerConfigErrors: a bad config file stops the broker before it
// listens, with one line naming file, line and option, and exit code 1.
func TestBrokerConfigErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := []struct{ conf, want string }{
		{"listener 1883\nallow_anonymous maybe\n", "bad.conf:2: allow_anonymous: want true or false, got \"maybe\""},
		{"# comment\n\nlistner 1883\n", "bad.conf:3: listner: unknown option"},
		{"listener 1883\nlog_dest syslog\n", "bad.conf:2: log_dest: log destination \"syslog\" is not supported by mqtls"},
		{"listener 8883\ncafile ca.crt\nrequire_certificate true\n", "bad.conf:1: listener: listener 8883 sets cafile but is not a TLS listener"},
		{"listener 8883\ncertfile missing.crt\nkeyfile missing.key\n", "listener 8883: load certfile missing.crt and keyfile missing.key"},
		{"listener 1883\npassword_file missing.passwd\n", "password_file: open missing.passwd: no such file or directory"},
		{"listener 1883\nplugin /usr/lib/mosquitto_dynamic_security.so\n", "needs plugin_opt_config_file"},
		{"listener 1883\nplugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file nope.json\n", "load dynamic security config"},
	}
	for i, c := range cases {
		sub := filepath.Join(dir, fmt.Sprint(i))
		if err := os.MkdirAll(sub, 0o700); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(sub, "bad.conf")
		if err := os.WriteFile(path, []byte(c.conf), 0o600); err != nil {
			t.Fatal(err)
		}
		_, stderr, code := mq(t, sub, nil, "broker", "-c", "bad.conf")
		if code != 1 || !strings.HasPrefix(stderr, "mqtls: error: ") || !strings.Contains(stderr, c.want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("config %q: exit %d, stderr:\n%s\nwant one line with %q", c.conf, code, stderr, c.want)
		}
	}
	if _, stderr, code := mq(t, dir, nil, "broker", "-c", "nothere.conf"); code != 1 || !strings.Contains(stderr, "read config: open nothere.conf") {
		t.Errorf("missing file: exit %d: %s", code, stderr)
	}
	if _, stderr, code := mq(t, dir, nil, "broker", "extra"); code != 2 || !strings.Contains(stderr, "broker takes no arguments") {
		t.Errorf("argument: exit %d: %s", code, stderr)
	}
}

// TestBrokerWithMqtlsPKI: the certificates of `mqtls ca init`, `mqtls cert
// server` and `mqtls cert client` work with Debian's mosquitto_pub and
// mosquitto_sub against `mqtls broker` on an mTLS listener, and `mqtls cert
// revoke` takes effect without a restart.
func TestBrokerWithMqtlsPKI(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure"},
		{"cert", "server", "--host", "localhost", "--ip", "127.0.0.1"},
		{"cert", "client", "DSN000001"},
		{"cert", "client", "DSN000002"},
	} {
		if _, stderr, code := mq(t, dir, nil, args...); code != 0 {
			t.Fatalf("mqtls %v: exit %d\n%s", args, code, stderr)
		}
	}
	port := testutil.FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
cafile pki/chain.pem
certfile pki/issued/server.crt
keyfile pki/issued/server.key
crlfile pki/crl.pem
require_certificate true
use_identity_as_username true
log_type all
`, port)
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, b, testutil.Addr(port))
	tls := func(id string, more ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(port), "--cafile", "pki/chain.pem",
			"--cert", "pki/issued/" + id + ".crt", "--key", "pki/issued/" + id + ".key"}, more...)
	}
	sub := testutil.Start(t, dir, "mosquitto_sub", tls("DSN000002", "-i", "DSN000002", "-t", "test/topic", "-C", "1")...)
	testutil.WaitFor(t, 10*time.Second, "subscription", func() bool { return strings.Contains(b.Stderr(), "DSN000002 0 test/topic") })
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", tls("DSN000001", "-i", "DSN000001", "-t", "test/topic", "-m", "hello")...); code != 0 {
		t.Fatalf("mosquitto_pub: %s", out)
	}
	select {
	case <-sub.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("subscriber got nothing")
	}
	if sub.Stdout() != "hello\n" {
		t.Errorf("subscriber: %q", sub.Stdout())
	}
	if !strings.Contains(b.Stderr(), "as DSN000001 (p2, c1, k60, u'DSN000001')") {
		t.Errorf("no Mosquitto-like connection line in the log:\n%s", b.Stderr())
	}
	if _, stderr, code := mq(t, dir, nil, "cert", "revoke", "DSN000001"); code != 0 {
		t.Fatalf("revoke: %s", stderr)
	}
	testutil.WaitFor(t, 10*time.Second, "CRL reload", func() bool { return strings.Contains(b.Stderr(), "1 revoked certificate(s)") })
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", tls("DSN000001", "-t", "test/topic", "-m", "again")...); code == 0 {
		t.Fatalf("revoked certificate accepted: %s", out)
	}
}
