package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mqtls/certs"
	"mqtls/internal/testutil"
)

// TestCertClaim: a claim certificate is a client certificate OpenSSL
// accepts, with CN claim:NAME and the claim extension; no device id can be
// claim:NAME; and a broker listener without enrollment refuses it even
// where any verified certificate would do (no access control at all).
func TestCertClaim(t *testing.T) {
	testutil.Need(t, "openssl", "mosquitto_pub")
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	mqOK(t, dir, nil, "cert", "server", "--host", "localhost")
	pki := filepath.Join(dir, "pki")
	out := mqOK(t, dir, nil, "cert", "claim", "line3", "--max-uses", "2")
	if !strings.Contains(out, `"claim-line3"`) || !strings.Contains(out, "CN claim:line3") || !strings.Contains(out, "at most 2 uses") {
		t.Errorf("cert claim printed:\n%s", out)
	}
	crt, key := filepath.Join(pki, "issued", "claim-line3.crt"), filepath.Join(pki, "issued", "claim-line3.key")
	if perm(t, key) != 0o600 {
		t.Errorf("claim key mode %o", perm(t, key))
	}
	if v := openssl(t, dir, "verify", "-purpose", "sslclient", "-CAfile", filepath.Join(pki, "chain.pem"), crt); !strings.Contains(v, ": OK") {
		t.Errorf("openssl verify: %s", v)
	}
	text := openssl(t, dir, "x509", "-in", crt, "-noout", "-text")
	for _, want := range []string{"CN = claim:line3", certs.OIDClaim.String() + ":", "TLS Web Client Authentication"} {
		if !strings.Contains(text, want) {
			t.Errorf("claim certificate lacks %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "Server Authentication") || strings.Contains(text, "CA:TRUE") {
		t.Errorf("claim certificate grants too much:\n%s", text)
	}
	if list := mqOK(t, dir, nil, "cert", "list", "--json"); !strings.Contains(list, `"kind": "claim"`) || !strings.Contains(list, `"max_uses": 2`) {
		t.Errorf("cert list --json:\n%s", list)
	}

	before := treeSum(t, pki)
	for _, args := range [][]string{
		{"cert", "claim", "line3"},        // already issued
		{"cert", "client", "claim:line3"}, // a device id cannot be a claim's CN
		{"cert", "claim", "a:b"},          // nor can a claim name hold ':'
		{"cert", "claim", "x", "--max-uses", "-1"},
		{"cert", "renew", "claim-line3"},
	} {
		o, e, code := mq(t, dir, nil, args...)
		if code == 0 || strings.Count(strings.TrimSpace(e), "\n") > 1 {
			t.Errorf("mqtls %s: exit %d\n%s%s", strings.Join(args, " "), code, o, e)
		}
	}
	if after := treeSum(t, pki); after != before {
		t.Errorf("refused commands changed the PKI folder")
	}
	if o, e, code := mq(t, dir, nil, "cert", "inspect", crt); code != 0 || !strings.Contains(o+e, "claim certificate") {
		t.Errorf("cert inspect of a claim: exit %d\n%s%s", code, o, e)
	}

	// A listener with certificate identities and no access control admits
	// any verified device certificate; never a claim.
	port := testutil.FreePort(t)
	startBroker(t, "mqtls", port, fmt.Sprintf(`listener %d 127.0.0.1
cafile %[2]s/chain.pem
certfile %[2]s/issued/server.crt
keyfile %[2]s/issued/server.key
require_certificate true
use_identity_as_username true
`, port, pki))
	mqOK(t, dir, nil, "cert", "client", "DSN000001")
	base := []string{"-h", "localhost", "-p", strconv.Itoa(port), "--cafile", filepath.Join(pki, "chain.pem"), "-t", "x", "-m", "y"}
	dev := append(append([]string{}, base...), "--cert", filepath.Join(pki, "issued", "DSN000001.crt"), "--key", filepath.Join(pki, "issued", "DSN000001.key"))
	if r := runTool(t, []string{"mosquitto_pub"}, dev...); r.code != 0 {
		t.Fatalf("device certificate refused: %+v", r)
	}
	for _, v := range []string{"5", "311"} {
		claim := append(append([]string{"-V", v}, base...), "--cert", crt, "--key", key)
		if r := runTool(t, []string{"mosquitto_pub"}, claim...); r.code == 0 {
			t.Errorf("claim certificate accepted on a listener without enrollment (MQTT %s): %+v", v, r)
		}
	}
	if _, err := os.Stat(key); err != nil {
		t.Fatal(err)
	}
}
