package bench

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"mqtls/broker"
	"mqtls/conf"
	"mqtls/internal/testutil"
)

// These benchmarks run mqtls's broker inside the test process, behind a
// mutual-TLS listener with use_identity_as_username and an acl_file, and
// load it from a separate `mqtls bench` process (pinned to the last CPU), so
// that a CPU or memory profile of the test binary is a profile of the
// broker, not of the load generator:
//
//	taskset -c 0 go test -run '^$' -bench Broker -cpuprofile cpu.prof ./bench
//	go tool pprof -top cpu.prof
//
// Each run lasts a few seconds whatever b.N is; the numbers are reported
// as metrics. Side-by-side numbers against Mosquitto come from make compare.

// BenchmarkBrokerMTLS checks access with an acl_file.
func BenchmarkBrokerMTLS(b *testing.B) { benchBroker(b, false, false) }

// BenchmarkBrokerMTLSDynsec checks access with dynamic security: both
// devices are in a group whose role grants bench/#.
func BenchmarkBrokerMTLSDynsec(b *testing.B) { benchBroker(b, true, false) }

// BenchmarkBrokerMTLSPersist is BenchmarkBrokerMTLS with persistence on
// (persistence_sync batch): what durable QoS 1 costs the broker.
func BenchmarkBrokerMTLSPersist(b *testing.B) { benchBroker(b, false, true) }

const benchDynsec = `{
	"defaultACLAccess": {"publishClientSend": false, "publishClientReceive": true, "subscribe": false, "unsubscribe": true},
	"clients": [{"username": "dev1", "roles": []}, {"username": "dev2", "roles": []}],
	"groups": [{"groupname": "devices", "roles": [{"rolename": "device"}], "clients": [{"username": "dev1"}, {"username": "dev2"}]}],
	"roles": [{"rolename": "device", "acls": [
		{"acltype": "publishClientSend", "topic": "bench/forbidden/#", "priority": 10, "allow": false},
		{"acltype": "publishClientSend", "topic": "bench/#", "allow": true},
		{"acltype": "subscribePattern", "topic": "bench/#", "allow": true},
		{"acltype": "publishClientReceive", "topic": "bench/#", "allow": true}]}]
}`

func benchBroker(b *testing.B, dynsec, persist bool) {
	bin := testutil.Mqtls(b)
	dir, clients := pki(b)
	port := testutil.FreePort(b)
	access := filepath.Join(dir, "acl")
	if err := os.WriteFile(access, []byte("topic deny bench/forbidden/#\nuser dev1\ntopic readwrite bench/#\nuser dev2\ntopic readwrite bench/#\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	accessConf := "acl_file " + access
	if dynsec {
		access = filepath.Join(dir, "dynamic-security.json")
		if err := os.WriteFile(access, []byte(benchDynsec), 0o600); err != nil {
			b.Fatal(err)
		}
		accessConf = "plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file " + access
	}
	persistence := "persistence false"
	if persist {
		persistence = "persistence true\npersistence_location " + filepath.Join(b.TempDir(), "data")
	}
	cfg, err := conf.Parse("bench.conf", fmt.Appendf(nil, `per_listener_settings false
allow_anonymous false
%s
%s
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, persistence, accessConf, port, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	if err != nil {
		b.Fatal(err)
	}
	br, err := broker.New(cfg, nil, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	target := []string{"--url", "ssl://" + testutil.Addr(port), "--cafile", filepath.Join(dir, "ca.crt"), "--pid", fmt.Sprint(os.Getpid()), "--json"}
	cert := []string{"--cert", filepath.Join(clients, "dev1.crt"), "--key", filepath.Join(clients, "dev1.key")}

	load := func(b *testing.B, args ...string) map[string]any {
		b.Helper()
		cmd := []string{bin}
		if n := runtime.NumCPU(); n > 1 {
			cmd = append([]string{"taskset", "-c", fmt.Sprint(n - 1)}, cmd...)
		}
		cmd = append(cmd, "bench")
		cmd = append(cmd, args...)
		cmd = append(cmd, target...)
		out, code := testutil.Run(b, "", 2*time.Minute, cmd[0], cmd[1:]...)
		if code != 0 {
			b.Fatalf("%v: exit %d\n%s", cmd, code, out)
		}
		var r map[string]any
		if err := json.NewDecoder(bytes.NewReader([]byte(out))).Decode(&r); err != nil {
			b.Fatalf("bench output: %v\n%s", err, out)
		}
		return r
	}
	flow := func(b *testing.B, r map[string]any) {
		b.ReportMetric(r["received_per_s"].(float64), "msgs/s")
		b.ReportMetric(r["lost"].(float64), "lost")
		lat := r["latency"].(map[string]any)
		b.ReportMetric(lat["p99_ms"].(float64), "p99-ms")
		if br, ok := r["broker"].(map[string]any); ok {
			b.ReportMetric(br["per_core_second"].(float64), "msgs/core-s")
		}
	}
	b.Run("qos0", func(b *testing.B) {
		for b.Loop() {
			flow(b, load(b, append([]string{"pubsub", "--qos", "0", "--duration", "5s", "--warmup", "1s"}, cert...)...))
		}
	})
	b.Run("qos1", func(b *testing.B) {
		for b.Loop() {
			flow(b, load(b, append([]string{"pubsub", "--qos", "1", "--duration", "5s", "--warmup", "1s"}, cert...)...))
		}
	})
	b.Run("qos0@10k", func(b *testing.B) {
		for b.Loop() {
			flow(b, load(b, append([]string{"pubsub", "--qos", "0", "--rate", "10000", "--duration", "5s", "--warmup", "1s"}, cert...)...))
		}
	})
	b.Run("connect", func(b *testing.B) {
		for b.Loop() {
			r := load(b, "connect", "--connections", "1000", "--concurrency", "16", "--hold", "2s", "--cert-dir", clients)
			b.ReportMetric(r["connects_per_s"].(float64), "connects/s")
			if br, ok := r["broker"].(map[string]any); ok {
				b.ReportMetric(br["per_core_second"].(float64), "connects/core-s")
			}
			b.ReportMetric(r["rss_per_conn_bytes"].(float64)/1024, "KiB/conn")
		}
	})
}
