package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// Smoke runs of every workload against a real Mosquitto: tiny counts, a
// second or less, and assertions on counts only, never on speed.

func plainMosquitto(t *testing.T) (string, int) {
	t.Helper()
	port := testutil.FreePort(t)
	p := testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nset_tcp_nodelay true\n", port))
	return "tcp://" + testutil.Addr(port), p.Cmd.Process.Pid
}

func TestPubSubQoS1AgainstMosquitto(t *testing.T) {
	t.Parallel()
	url, pid := plainMosquitto(t)
	res, err := PubSub(context.Background(), PubSubOptions{
		Target: Target{URL: url},
		Load:   Load{QoS: 1, Payload: 32, Duration: time.Second, Warmup: 200 * time.Millisecond, Rate: 400, PID: pid},
		Pairs:  2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent < 100 || res.Received != res.Sent || res.Lost != 0 {
		t.Fatalf("qos 1 at 400 msg/s for 1s: sent %d, received %d, lost %d", res.Sent, res.Received, res.Lost)
	}
	if res.Latency.Count == 0 || res.Latency.Count >= res.Received {
		t.Fatalf("latency count %d: want the messages after the warm-up, fewer than %d", res.Latency.Count, res.Received)
	}
	if !(res.Latency.P50 > 0 && res.Latency.P50 <= res.Latency.P99 && res.Latency.P99 <= res.Latency.Max) {
		t.Fatalf("percentiles out of order: %+v", res.Latency)
	}
	if res.Broker == nil || res.Broker.PID != pid || res.Broker.RSSAfter <= 0 {
		t.Fatalf("broker measurement missing: %+v", res.Broker)
	}
	var out strings.Builder
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"pubsub", "2 publishers, 2 subscribers", "qos 1, 32 bytes", "lost 0 of", "p99"} {
		if !strings.Contains(flat, want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

func TestPubSubQoS0ClosedLoop(t *testing.T) {
	t.Parallel()
	url, _ := plainMosquitto(t)
	res, err := PubSub(context.Background(), PubSubOptions{
		Target: Target{URL: url},
		Load:   Load{QoS: 0, Duration: 500 * time.Millisecond},
		Pairs:  1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent == 0 || res.Received == 0 || res.Received > res.Sent {
		t.Fatalf("qos 0 closed loop: sent %d, received %d", res.Sent, res.Received)
	}
	if res.Payload != 64 {
		t.Fatalf("default payload %d, want 64", res.Payload)
	}
}

func TestFanoutQoS2(t *testing.T) {
	t.Parallel()
	url, _ := plainMosquitto(t)
	res, err := Fanout(context.Background(), FanoutOptions{
		Target:      Target{URL: url},
		Load:        Load{QoS: 2, Duration: 500 * time.Millisecond, Rate: 100, Window: 4},
		Subscribers: 3,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Publishers != 1 || res.Subscribers != 3 {
		t.Fatalf("fanout shape %d publishers, %d subscribers", res.Publishers, res.Subscribers)
	}
	if res.Sent == 0 || res.Expected != 3*res.Sent || res.Received != res.Expected {
		t.Fatalf("fanout qos 2: sent %d, expected %d, received %d", res.Sent, res.Expected, res.Received)
	}
}

func TestConnectPlain(t *testing.T) {
	t.Parallel()
	url, pid := plainMosquitto(t)
	res, err := Connect(context.Background(), ConnectOptions{
		Target: Target{URL: url}, Connections: 20, Concurrency: 4, Hold: 100 * time.Millisecond, PID: pid,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 20 || res.Failed != 0 || res.Latency.Count != 20 {
		t.Fatalf("connected %d, failed %d, latencies %d", res.Connected, res.Failed, res.Latency.Count)
	}
	if res.Broker == nil || res.Broker.RSSAfter <= 0 {
		t.Fatalf("broker memory not read: %+v", res.Broker)
	}
}

// pki makes a CA, a server certificate for 127.0.0.1 and two client
// certificates (CN dev1 and dev2) with openssl.
func pki(t testing.TB) (dir, clients string) {
	t.Helper()
	testutil.Need(t, "openssl")
	dir = t.TempDir()
	clients = filepath.Join(dir, "clients")
	if err := os.Mkdir(clients, 0o700); err != nil {
		t.Fatal(err)
	}
	ossl := func(args ...string) {
		t.Helper()
		if out, code := testutil.Run(t, dir, time.Minute, "openssl", args...); code != 0 {
			t.Fatalf("openssl %v: %s", args, out)
		}
	}
	ossl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
		"-subj", "/CN=bench test ca", "-keyout", "ca.key", "-out", "ca.crt")
	sign := func(name, cn, ext string) {
		ossl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", "/CN="+cn,
			"-keyout", name+".key", "-out", name+".csr")
		if err := os.WriteFile(filepath.Join(dir, name+".ext"), []byte(ext), 0o600); err != nil {
			t.Fatal(err)
		}
		ossl("x509", "-req", "-in", name+".csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
			"-days", "2", "-extfile", name+".ext", "-out", name+".crt")
	}
	sign("server", "127.0.0.1", "subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
	for _, cn := range []string{"dev1", "dev2"} {
		sign("clients/"+cn, cn, "extendedKeyUsage=clientAuth\n")
	}
	return dir, clients
}

func TestConnectMutualTLSCycleCerts(t *testing.T) {
	t.Parallel()
	dir, clients := pki(t)
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf(`listener %d 127.0.0.1
allow_anonymous false
require_certificate true
use_identity_as_username true
cafile %s
certfile %s
keyfile %s
`, port, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	url := "ssl://" + testutil.Addr(port)

	res, err := Connect(context.Background(), ConnectOptions{
		Target:      Target{URL: url, CAFile: filepath.Join(dir, "ca.crt"), CertDir: clients},
		Connections: 8, Concurrency: 2,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Connected != 8 || !res.TLS || res.ClientCerts != 2 {
		t.Fatalf("mutual tls: connected %d, tls %v, certs %d", res.Connected, res.TLS, res.ClientCerts)
	}

	// The same broker refuses connections without a client certificate:
	// the tool must report that, not hide it.
	res, err = Connect(context.Background(), ConnectOptions{
		Target:      Target{URL: url, CAFile: filepath.Join(dir, "ca.crt"), ConnectTimeout: 2 * time.Second},
		Connections: 2, Concurrency: 2,
	})
	if err == nil || res == nil || res.Failed != 2 {
		t.Fatalf("connect without a client certificate: want 2 failures and an error, got %+v, %v", res, err)
	}

	// pubsub over mutual TLS.
	fr, err := PubSub(context.Background(), PubSubOptions{
		Target: Target{URL: url, CAFile: filepath.Join(dir, "ca.crt"), CertFile: filepath.Join(clients, "dev1.crt"), KeyFile: filepath.Join(clients, "dev1.key")},
		Load:   Load{QoS: 1, Duration: 300 * time.Millisecond, Rate: 200},
		Pairs:  1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if fr.Sent == 0 || fr.Received != fr.Sent {
		t.Fatalf("pubsub over mutual tls: sent %d, received %d", fr.Sent, fr.Received)
	}
}

func TestBadTargets(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cases := map[string]struct {
		target Target
		want   string
	}{
		"no url":          {Target{}, "no broker url"},
		"no scheme":       {Target{URL: "127.0.0.1:1883"}, "want scheme://host:port"},
		"bad scheme":      {Target{URL: "http://127.0.0.1:1883"}, `scheme "http"`},
		"no port":         {Target{URL: "tcp://127.0.0.1"}, "no port"},
		"tls on tcp":      {Target{URL: "tcp://127.0.0.1:1", CAFile: "x"}, "use ssl://"},
		"missing ca":      {Target{URL: "ssl://127.0.0.1:1", CAFile: filepath.Join(dir, "none.crt")}, "read ca file"},
		"cert no key":     {Target{URL: "ssl://127.0.0.1:1", CertFile: "a.crt"}, "both a cert file and a key file"},
		"empty cert dir":  {Target{URL: "ssl://127.0.0.1:1", CertDir: dir}, "no NAME.crt with NAME.key"},
		"missing certdir": {Target{URL: "ssl://127.0.0.1:1", CertDir: filepath.Join(dir, "nope")}, "read certificate folder"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Connect(context.Background(), ConnectOptions{Target: c.target, Connections: 1})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

func TestBadLoads(t *testing.T) {
	t.Parallel()
	cases := map[string]struct {
		load Load
		want string
	}{
		"qos 3":         {Load{QoS: 3, Duration: time.Second}, "qos 3"},
		"tiny payload":  {Load{Payload: 8, Duration: time.Second}, "at least 16"},
		"no duration":   {Load{}, "duration must be positive"},
		"long warm-up":  {Load{Duration: time.Second, Warmup: time.Second}, "warm-up"},
		"negative rate": {Load{Duration: time.Second, Rate: -1}, "rate must not be negative"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := PubSub(context.Background(), PubSubOptions{Target: Target{URL: "tcp://127.0.0.1:1"}, Load: c.load})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error with %q", err, c.want)
			}
		})
	}
}

// TestCertDirSkipsServerCertificates: pointed at a PKI's issued/ folder,
// which holds the broker's own certificate too, the tool cycles through the
// client certificates only (a broker refuses a serverAuth-only one).
func TestCertDirSkipsServerCertificates(t *testing.T) {
	t.Parallel()
	dir, clients := pki(t)
	for _, ext := range []string{".crt", ".key"} {
		b, err := os.ReadFile(filepath.Join(dir, "server"+ext))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(clients, "server"+ext), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	certs, err := loadCertDir(clients)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != 2 {
		t.Fatalf("loaded %d certificates, want the 2 client ones", len(certs))
	}
	for _, c := range certs {
		if c.Leaf.Subject.CommonName == "127.0.0.1" {
			t.Fatal("the server certificate was taken as a client certificate")
		}
	}
}
