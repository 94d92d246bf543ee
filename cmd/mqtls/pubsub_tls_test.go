package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mqtls/internal/testutil"
)

// tlsBroker is the seed's 8883 listener: mutual TLS, the certificate's CN
// as the username, the Dynamic Security plugin, and the CRL. In the dynsec
// file DSN000001 may use test/ok/# only; DSN000002 does not exist there.
func tlsBroker(t *testing.T, kind string, p *testPKI) string {
	t.Helper()
	plugins, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
	plugins2, _ := filepath.Glob("/usr/lib/mosquitto_dynamic_security.so")
	plugins = append(plugins, plugins2...)
	if len(plugins) == 0 {
		t.Fatal("mosquitto_dynamic_security.so is not installed: install Debian's mosquitto package")
	}
	dynsec := filepath.Join(t.TempDir(), "dynamic-security.json")
	if err := os.WriteFile(dynsec, []byte(`{
	"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	"clients": [{"username": "DSN000001", "roles": [{"rolename": "ok"}]}],
	"groups": [],
	"roles": [{"rolename": "ok", "acls": [
		{"acltype": "publishClientSend", "topic": "test/ok/#", "allow": true},
		{"acltype": "publishClientReceive", "topic": "test/ok/#", "allow": true},
		{"acltype": "subscribePattern", "topic": "test/ok/#", "allow": true}]}]
}`), 0o600); err != nil {
		t.Fatal(err)
	}
	access := fmt.Sprintf("plugin %s\nplugin_opt_config_file %s\n", plugins[0], dynsec)
	port := testutil.FreePort(t)
	startBroker(t, kind, port, fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
crlfile %s
require_certificate true
use_identity_as_username true
%s`, port, p.chain, p.serverCrt, p.serverKey, p.crl, access))
	return strconv.Itoa(port)
}

func TestSeedTLSRecipes(t *testing.T) {
	pki := newTestPKI(t)
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { seedTLS(t, pki, tlsBroker(t, b, pki)) })
	}
}

func seedTLS(t *testing.T, pki *testPKI, port string) {
	mtls := []string{"-h", "localhost", "-p", port, "--cafile", pki.chain, "--cert", pki.clientCrt, "--key", pki.clientKey}
	for _, v := range []string{"311", "5"} {
		// The seed's first TLS subscription: connected, but test/topic is not allowed.
		out := sameOutput(t, subOf, append([]string{"-V", v, "-d", "-k", "10", "-v", "-i", "DSN000001", "-t", "test/topic"}, mtls...)...)
		if !strings.Contains(out, "Subscribed (mid: 1): 128") && !strings.Contains(out, "Subscribed (mid: 1): 135") {
			t.Errorf("-V %s: expected a refused subscription:\n%s", v, out)
		}
		// The seed's secure publish, to a topic the ACL allows.
		sameOutput(t, pubOf, append([]string{"-V", v, "-d", "-r", "-i", "DSN000001", "-t", "test/ok/secure", "-m", "hello there, this is secure message"}, mtls...)...)
	}

	// --insecure: any name, but still a trusted chain.
	insecure := []string{"-V", "311", "-d", "-i", "DSN000001", "-t", "test/ok/insecure", "-m", "x", "-h", "127.0.0.1", "-p", port,
		"--insecure", "--cert", pki.clientCrt, "--key", pki.clientKey}
	if out := sameOutput(t, pubOf, append(insecure, "--cafile", pki.chain)...); !strings.Contains(out, "sending DISCONNECT") {
		t.Errorf("--insecure did not connect:\n%s", out)
	}
	bin := testutil.Mqtls(t)
	if r := runTool(t, []string{bin, "pub"}, append(insecure, "--cafile", pki.otherChain)...); r.code != 7 {
		t.Errorf("--insecure accepted an untrusted chain: %+v", r)
	}

	// The p12 a phone holds gives what the PEM pair gives.
	args := []string{"-V", "311", "-d", "-v", "-i", "DSN000001", "-t", "test/ok/#", "-C", "1", "-h", "localhost", "-p", port, "--cafile", pki.chain}
	want := runTool(t, []string{"mosquitto_sub"}, append(args, "--cert", pki.clientCrt, "--key", pki.clientKey)...)
	got := runTool(t, []string{bin, "sub"}, append(args, "--p12", pki.p12, "--p12-password-file", pki.p12Pass)...)
	if want.code != 0 || got.out != want.out || got.code != 0 {
		t.Errorf("--p12 differs from --cert/--key:\n--- mosquitto_sub:\n%s%s--- mqtls sub --p12:\n%s%s", want.out, want.err, got.out, got.err)
	}
	if !strings.Contains(got.out, "test/ok/secure hello there, this is secure message") {
		t.Errorf("no message over mutual TLS:\n%s", got.out)
	}
}

func TestExitCodesMatchMosquitto(t *testing.T) {
	pki := newTestPKI(t)
	for _, b := range brokers {
		t.Run(b, func(t *testing.T) { exitCodes(t, pki, tlsBroker(t, b, pki), passwdBroker(t, b)) })
	}
}

func exitCodes(t *testing.T, pki *testPKI, tlsPort, pwPort string) {
	closed := strconv.Itoa(testutil.FreePort(t))
	cases := []struct {
		name string
		pub  bool
		tls  bool
		args []string
		says string // in our stderr
	}{
		{"refused v3", false, false, []string{"-V", "311", "-p", pwPort, "-u", "test", "-P", "wrong", "-t", "a"}, "refused the connection"},
		{"refused v5", false, false, []string{"-V", "5", "-p", pwPort, "-u", "test", "-P", "wrong", "-t", "a"}, "refused the connection"},
		{"refused pub", true, false, []string{"-V", "311", "-p", pwPort, "-u", "nobody", "-P", "x", "-t", "a", "-m", "x"}, "refused the connection"},
		{"unreachable", false, false, []string{"-p", closed, "-t", "a"}, "connection refused"},
		{"timeout", false, false, []string{"-V", "311", "-p", pwPort, "-u", "test", "-P", "123456", "-t", "nothing/here", "-W", "1"}, "timed out"},
		{"no topic", false, false, []string{"-p", pwPort}, "mqtls sub --help"},
		{"no message", true, false, []string{"-p", pwPort, "-t", "a"}, "mqtls pub --help"},
		{"wildcard publish", true, false, []string{"-p", pwPort, "-t", "a/+", "-m", "x"}, "invalid publish topic"},
		{"bad filter", false, false, []string{"-p", pwPort, "-t", "a/#/b"}, "invalid subscription topic"},
		{"unknown flag", false, false, []string{"-p", pwPort, "-t", "a", "--bogus"}, "bogus"},
		{"unknown CA", false, true, []string{"-V", "311", "-h", "localhost", "-p", tlsPort, "--cafile", pki.otherChain, "--cert", pki.clientCrt, "--key", pki.clientKey, "-t", "a"}, "--cafile"},
		{"name mismatch", false, true, []string{"-V", "311", "-h", "127.0.0.1", "-p", tlsPort, "--cafile", pki.chain, "--cert", pki.clientCrt, "--key", pki.clientKey, "-t", "a"}, "localhost"},
		{"no client certificate", false, true, []string{"-V", "311", "-h", "localhost", "-p", tlsPort, "--cafile", pki.chain, "-t", "a"}, "refused"},
		{"certificate of another CA", false, true, []string{"-V", "311", "-h", "localhost", "-p", tlsPort, "--cafile", pki.chain, "--cert", pki.otherCrt, "--key", pki.otherKey, "-t", "a"}, "refused"},
		{"revoked certificate", false, true, []string{"-V", "311", "-h", "localhost", "-p", tlsPort, "--cafile", pki.chain, "--cert", pki.revokedCrt, "--key", pki.revokedKey, "-t", "a"}, "revoked"},
	}
	ss := sides(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			pick := subOf
			if tc.pub {
				pick = pubOf
			}
			want := runTool(t, pick(ss[0]), tc.args...)
			got := runTool(t, pick(ss[1]), tc.args...)
			if tc.tls {
				// libmosquitto exits 1, 7 or 8 on a TLS failure, depending on
				// when it notices it; we always exit 7.
				if (want.code != 1 && want.code != 7 && want.code != 8) || got.code != 7 {
					t.Errorf("exit %d (want 7), mosquitto %d\nmosquitto stderr: %s\nmqtls stderr: %s", got.code, want.code, want.err, got.err)
				}
			} else if want.code == 0 || got.code != want.code {
				t.Errorf("exit %d, mosquitto %d\nmosquitto stderr: %s\nmqtls stderr: %s", got.code, want.code, want.err, got.err)
			}
			if !strings.Contains(got.err, tc.says) {
				t.Errorf("stderr does not say %q:\n%s", tc.says, got.err)
			}
		})
	}
}

// TestP12FromMqtlsP12 connects with the bundle `mqtls p12` writes, to a
// Mosquitto that trusts the CA `mqtls ca init` made.
func TestP12FromMqtlsP12(t *testing.T) {
	bin := testutil.Mqtls(t)
	dir := t.TempDir()
	pki := filepath.Join(dir, "pki")
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure"},
		{"cert", "server", "--host", "localhost"},
		{"cert", "client", "DSN000001"},
		{"p12", "DSN000001"},
	} {
		if r := runTool(t, []string{bin}, append(args, "--pki", pki)...); r.code != 0 {
			t.Fatalf("mqtls %v: %+v", args, r)
		}
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf(`listener %d 127.0.0.1
cafile %[2]s/chain.pem
certfile %[2]s/issued/server.crt
keyfile %[2]s/issued/server.key
crlfile %[2]s/crl.pem
require_certificate true
use_identity_as_username true
`, port, pki))
	tls := []string{"-V", "311", "-h", "localhost", "-p", strconv.Itoa(port), "--cafile", filepath.Join(pki, "chain.pem")}
	pem := []string{"--cert", filepath.Join(pki, "issued", "DSN000001.crt"), "--key", filepath.Join(pki, "issued", "DSN000001.key")}
	if r := runTool(t, []string{"mosquitto_pub"}, append(append([]string{"-r", "-t", "dev/DSN000001", "-m", "from the pem pair"}, tls...), pem...)...); r.code != 0 {
		t.Fatalf("mosquitto_pub: %+v", r)
	}
	sub := append([]string{"-d", "-v", "-i", "DSN000001", "-t", "dev/#", "-C", "1"}, tls...)
	want := runTool(t, []string{"mosquitto_sub"}, append(sub, pem...)...)
	got := runTool(t, []string{bin, "sub"}, append(sub, "--p12", filepath.Join(pki, "issued", "DSN000001.p12"),
		"--p12-password-file", filepath.Join(pki, "issued", "DSN000001.p12.pass"))...)
	if want.code != 0 || got.code != 0 || got.out != want.out || !strings.Contains(got.out, "dev/DSN000001 from the pem pair") {
		t.Errorf("--p12 from mqtls p12:\n--- mosquitto_sub --cert/--key (exit %d):\n%s%s--- mqtls sub --p12 (exit %d):\n%s%s",
			want.code, want.out, want.err, got.code, got.out, got.err)
	}
}

// TestCNOnlyCertificate is the seed's CN pitfall: a server certificate made
// by its openssl recipes names the host in its CN only. OpenSSL, so
// mosquitto_sub, accepts it when -h is that name; so do we, with a warning.
func TestCNOnlyCertificate(t *testing.T) {
	pki := newTestPKI(t)
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nallow_anonymous true\n",
		port, pki.chain, pki.cnOnlyCrt, pki.cnOnlyKey))
	p := strconv.Itoa(port)
	runTool(t, []string{"mosquitto_pub"}, "-h", "localhost", "-p", p, "--cafile", pki.chain, "-r", "-t", "cn/x", "-m", "by CN")
	if out := sameOutput(t, subOf, "-V", "311", "-h", "localhost", "-p", p, "--cafile", pki.chain, "-t", "cn/#", "-C", "1", "-v"); out != "cn/x by CN\n" {
		t.Errorf("mosquitto_sub over a CN-only certificate printed %q", out)
	}
	bin := testutil.Mqtls(t)
	r := runTool(t, []string{bin, "sub"}, "-h", "localhost", "-p", p, "--cafile", pki.chain, "-t", "cn/#", "-C", "1")
	if !strings.Contains(r.err, "CN only") {
		t.Errorf("no warning about the CN-only certificate: %+v", r)
	}
	r = runTool(t, []string{bin, "sub"}, "-h", "127.0.0.1", "-p", p, "--cafile", pki.chain, "-t", "cn/#", "-C", "1")
	if r.code != 7 || !strings.Contains(r.err, `"localhost" (in its CN only`) || !strings.Contains(r.err, `not "127.0.0.1"`) {
		t.Errorf("name mismatch on a CN-only certificate: %+v", r)
	}
}
