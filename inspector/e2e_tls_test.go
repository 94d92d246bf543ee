package inspector

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestCertificateIdentityAgainstBroker: a device on the mTLS listener shows
// up in the page with its certificate CN, as the last publisher of its topic
// and in the clients panel, and /metrics reports the CRL's age. The PKI is
// made with mqtls itself; the device is Mosquitto's client.
func TestCertificateIdentityAgainstBroker(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd")
	dir := t.TempDir()
	bin := testutil.Mqtls(t)
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure", "--pki", "pki"},
		{"cert", "server", "--pki", "pki", "--host", "localhost", "--ip", "127.0.0.1"},
		{"cert", "client", "DSN000001", "--pki", "pki"},
	} {
		if out, code := testutil.Run(t, dir, 60*time.Second, bin, args...); code != 0 {
			t.Fatalf("mqtls %v: %d\n%s", args, code, out)
		}
	}
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", "passwd", "DSN000001", "unused-password"); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	plain, tlsPort, webPort := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf(`listener %d 127.0.0.1
listener %d 127.0.0.1
cafile pki/chain.pem
certfile pki/issued/server.crt
keyfile pki/issued/server.key
crlfile pki/crl.pem
require_certificate true
use_identity_as_username true
password_file passwd
acl_file acl
inspector 127.0.0.1:%d
metrics true
`, plain, tlsPort, webPort)
	files := map[string]string{"mqtls.conf": conf, "acl": "user DSN000001\ntopic readwrite DSN000001/#\n"}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	proc := testutil.Start(t, dir, bin, "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, proc, testutil.Addr(tlsPort))
	testutil.WaitPort(t, proc, testutil.Addr(webPort))
	web := "http://" + testutil.Addr(webPort)

	device := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "--cafile", "pki/chain.pem",
		"--cert", "pki/issued/DSN000001.crt", "--key", "pki/issued/DSN000001.key"}
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(device, "-t", "DSN000001/telemetry", "-m", `{"temp":20}`, "-r")...); code != 0 {
		t.Fatalf("mosquitto_pub over mTLS: %d\n%s", code, out)
	}
	sub := testutil.Start(t, dir, "mosquitto_sub", append(device, "-t", "DSN000001/cmd", "-i", "DSN000001-sub")...)

	getJSON := func(path string, v any) bool {
		resp, err := http.Get(web + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode == http.StatusNotFound {
			return false
		}
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", path, resp.StatusCode, b)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v\n%s", path, err, b)
		}
		return true
	}
	// the publisher's PUBACK can come before the broker hands the message on
	metrics := func() string {
		resp, err := http.Get(web + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		m, _ := io.ReadAll(resp.Body)
		return string(m)
	}
	var tv topicView
	testutil.WaitFor(t, 10*time.Second, "the device's topic in the inspector", func() bool {
		return getJSON("/api/topic?name=DSN000001/telemetry", &tv)
	})
	if tv.Last.CN != "DSN000001" || tv.Last.Username != "DSN000001" {
		t.Errorf("last publisher: cn %q user %q, want DSN000001", tv.Last.CN, tv.Last.Username)
	}
	var cl struct{ Clients []clientView }
	testutil.WaitFor(t, 10*time.Second, "the subscriber in the clients panel", func() bool {
		if !getJSON("/api/clients", &cl) {
			t.Fatal("GET /api/clients: 404")
		}
		for _, c := range cl.Clients {
			if c.ID == "DSN000001-sub" && len(c.Subscriptions) == 1 {
				return true
			}
		}
		return false
	})
	for _, c := range cl.Clients {
		if c.ID == "DSN000001-sub" && (c.CN != "DSN000001" || c.Subscriptions[0].Filter != "DSN000001/cmd") {
			t.Errorf("clients panel: %+v", c)
		}
	}
	// a bare TCP probe (like those that waited for the port) is not a
	// failed handshake; a client without a certificate is
	probe, err := net.Dial("tcp", testutil.Addr(tlsPort))
	if err != nil {
		t.Fatal(err)
	}
	probeLine := "Client <unknown> from " + probe.LocalAddr().String() + " closed before sending anything."
	probe.Close()
	testutil.WaitFor(t, 10*time.Second, "the broker to log the probe", func() bool { return strings.Contains(proc.Stderr(), probeLine) })
	if _, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(tlsPort), "--cafile", "pki/chain.pem", "-t", "x", "-m", "1"); code == 0 {
		t.Fatal("a client without a certificate got in")
	}
	testutil.WaitFor(t, 10*time.Second, "the failed handshake in the metrics", func() bool {
		return metricValue(t, metrics(), "mqtls_tls_handshake_failures_total") > 0
	})
	resp, err := http.Get(web + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	m, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if n := metricValue(t, string(m), "mqtls_tls_handshake_failures_total"); n != 1 {
		t.Errorf("%v TLS handshake failures counted, want 1: port probes must not count", n)
	}
	if !strings.Contains(string(m), "mqtls_crl_age_seconds ") || strings.Contains(string(m), "mqtls_crl_age_seconds NaN") {
		t.Errorf("/metrics lacks the CRL age:\n%s", grepLines(string(m), "crl"))
	}
	sub.Kill()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// metricValue reads one unlabelled sample from a Prometheus text page.
func metricValue(t *testing.T, page, name string) float64 {
	t.Helper()
	for _, l := range strings.Split(page, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", l, err)
			}
			return f
		}
	}
	t.Fatalf("no %s in the metrics", name)
	return 0
}
