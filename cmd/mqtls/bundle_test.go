package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/internal/testutil"
)

// TestBundleLive: a client without a login is told the sandbox's; device
// bundle reads the device's topics from a running
// broker with the connection flags (its roles and its groups' roles), names
// the broker URL and the certificate's fingerprint (which openssl computes
// alike), and its QR code holds the URL with the fingerprint.
func TestBundleLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	port, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	p := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "--dev-port", fmt.Sprint(port), "--dev-tls-port", fmt.Sprint(tlsPort), "--dev-inspector", "")
	testutil.WaitPort(t, p, testutil.Addr(port))
	// Without a login the sandbox refuses a client: the error says which login to use.
	for _, args := range [][]string{
		{"sub", "-t", "sensors/#", "-h", "127.0.0.1", "-p", fmt.Sprint(port)},
		{"pub", "-t", "sensors/x", "-m", "1", "-V", "311", "-h", "127.0.0.1", "-p", fmt.Sprint(port)},
		{"bench", "pubsub", "--duration", "1s", "--url", "tcp://" + testutil.Addr(port)},
	} {
		_, errOut, code := mq(t, dir, nil, args...)
		if (code != 135 && code != 5 && code != 1) || !strings.Contains(errOut, "mqtls: hint: the broker wants a login") || !strings.Contains(errOut, "-u admin --password-file mqtls-dev/admin.pass") {
			t.Errorf("%q without a login: exit %d\n%s", args, code, errOut)
		}
	}
	pki := []string{"--pki", "mqtls-dev/pki"}
	admin := []string{"-h", "127.0.0.1", "-p", fmt.Sprint(port), "-u", "admin", "--password-file", "mqtls-dev/admin.pass"}
	live := append(append([]string{}, pki...), admin...)
	for _, cmd := range [][]string{
		{"createRole", "fw"},
		{"addRoleACL", "fw", "subscribeLiteral", "fleet/firmware", "allow"},
		{"createGroup", "plant"},
		{"addGroupRole", "plant", "fw"},
	} {
		mqOK(t, dir, nil, append(append([]string{"dynsec"}, admin...), cmd...)...)
	}
	mqOK(t, dir, nil, append([]string{"device", "add", "DSN000042", "--group", "plant"}, live...)...)

	out := mqOK(t, dir, nil, append([]string{"device", "bundle", "DSN000042", "--device-host", "liot.com", "--out", "b", "--qr"}, live...)...)
	var conn struct {
		URL        string   `json:"url"`
		Host       string   `json:"host"`
		Port       int      `json:"port"`
		CertSHA256 string   `json:"cert_sha256"`
		Publish    []string `json:"publish"`
		Subscribe  []string `json:"subscribe"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "b", "DSN000042", "connection.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &conn); err != nil {
		t.Fatal(err)
	}
	fp := openssl(t, dir, "x509", "-in", "mqtls-dev/pki/issued/DSN000042.crt", "-noout", "-fingerprint", "-sha256")
	_, fp, _ = strings.Cut(strings.TrimSpace(fp), "=")
	fp = strings.ToLower(strings.ReplaceAll(fp, ":", ""))
	if conn.URL != "mqtts://liot.com:8883" || conn.Host != "liot.com" || conn.Port != 8883 || conn.CertSHA256 != fp {
		t.Errorf("connection.json:\n%s\nwant the fingerprint %s", b, fp)
	}
	if strings.Join(conn.Publish, " ") != "devices/DSN000042/#" || strings.Join(conn.Subscribe, " ") != "devices/DSN000042/# fleet/firmware" {
		t.Errorf("topics: publish %v, subscribe %v", conn.Publish, conn.Subscribe)
	}
	if !strings.Contains(out, "url:    mqtts://liot.com:8883\n") || !strings.Contains(out, "cert sha256: "+fp) || !strings.Contains(out, "█") {
		t.Errorf("bundle output:\n%s", out)
	}
	// The p12 in the bundle holds that certificate (openssl reads it).
	leaf := filepath.Join(dir, "leaf.pem")
	openssl(t, dir, "pkcs12", "-in", "b/DSN000042/DSN000042.p12", "-passin", "file:b/DSN000042/DSN000042.p12.pass", "-nokeys", "-clcerts", "-out", leaf)
	if got := openssl(t, dir, "x509", "-in", leaf, "-noout", "-fingerprint", "-sha256"); !strings.Contains(strings.ToLower(strings.ReplaceAll(got, ":", "")), fp) {
		t.Errorf("the bundle's p12 holds another certificate: %s", got)
	}

	// -h alone is where the device connects: without -f or a login no topics, and a warning.
	_, errOut, code := mq(t, dir, nil, append([]string{"device", "bundle", "DSN000042", "--host", "liot.com", "--out", "c"}, pki...)...)
	if code != 0 || !strings.Contains(errOut, "connection.json lists no topics") {
		t.Errorf("no target: exit %d, %s", code, errOut)
	}
	// -f and a login at once is misuse.
	if _, errOut, code := mq(t, dir, nil, append([]string{"device", "bundle", "DSN000042", "-f", "mqtls-dev/dynamic-security.json"}, live...)...); code != 2 || !strings.Contains(errOut, "not both") {
		t.Errorf("-f and a login: exit %d, %s", code, errOut)
	}
	// A p12 that holds an older certificate is not bundled.
	mqOK(t, dir, nil, append([]string{"cert", "renew", "DSN000042"}, pki...)...)
	os.WriteFile(filepath.Join(dir, "mqtls-dev/pki/issued/DSN000042.p12"), mustRead(t, filepath.Join(dir, "b", "DSN000042", "DSN000042.p12")), 0o600)
	if _, errOut, code := mq(t, dir, nil, append([]string{"device", "bundle", "DSN000042", "--out", "d"}, live...)...); code != 1 || !strings.Contains(errOut, "holds an older certificate") {
		t.Errorf("stale p12: exit %d, %s", code, errOut)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
