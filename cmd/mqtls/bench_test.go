package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// The bench command end to end against a real Mosquitto: a tiny run of
// each mode, checking the output shape and counts, never speed.
func TestBenchCommandAgainstMosquitto(t *testing.T) {
	bin := testutil.Mqtls(t)
	port := testutil.FreePort(t)
	p := testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	url := "tcp://" + testutil.Addr(port)
	pid := fmt.Sprint(p.Cmd.Process.Pid)

	t.Run("pubsub json", func(t *testing.T) {
		out, code := testutil.Run(t, "", time.Minute, bin, "bench", "pubsub", "--url", url, "--pairs", "2",
			"--qos", "1", "--rate", "200", "--duration", "500ms", "--pid", pid, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		var r struct {
			Mode     string `json:"mode"`
			Sent     int64  `json:"sent"`
			Received int64  `json:"received"`
			Broker   *struct {
				PID int `json:"pid"`
			} `json:"broker"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r.Mode != "pubsub" || r.Sent == 0 || r.Received != r.Sent || r.Broker == nil || fmt.Sprint(r.Broker.PID) != pid {
			t.Fatalf("unexpected result: %+v", r)
		}
	})
	t.Run("fanout table, flags after the mode", func(t *testing.T) {
		out, code := testutil.Run(t, "", time.Minute, bin, "bench", "fanout", "--subscribers", "3", "--duration", "300ms", "--rate", "100", "--url", url)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		for _, want := range []string{"fanout", "1 publishers, 3 subscribers", "received", "latency"} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("connect", func(t *testing.T) {
		out, code := testutil.Run(t, "", time.Minute, bin, "bench", "connect", "--connections", "10", "--concurrency", "2", "--hold", "100ms", "--url", url, "--pid", pid)
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		if !strings.Contains(out, "10 in") || !strings.Contains(out, "per connection") {
			t.Errorf("connect output:\n%s", out)
		}
	})
	t.Run("fleet json", func(t *testing.T) {
		out, code := testutil.Run(t, "", time.Minute, bin, "bench", "fleet", "--url", url, "--clients", "20",
			"--interval", "200ms", "--duration", "1s", "--pid", pid, "--json")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		var r struct {
			Mode        string `json:"mode"`
			QoS         int    `json:"qos"`
			Sent        int64  `json:"sent"`
			Received    int64  `json:"received"`
			Lost        int64  `json:"lost"`
			Disconnects int64  `json:"disconnects"`
			Broker      *struct {
				RSSPeak int64 `json:"rss_peak_bytes"`
			} `json:"broker"`
		}
		if err := json.Unmarshal([]byte(out), &r); err != nil {
			t.Fatalf("not JSON: %v\n%s", err, out)
		}
		if r.Mode != "fleet" || r.QoS != 1 || r.Sent != 100 || r.Received != 100 || r.Lost != 0 || r.Disconnects != 0 || r.Broker == nil || r.Broker.RSSPeak <= 0 {
			t.Fatalf("20 devices, 5 slots each: %+v", r)
		}
	})
	t.Run("misuse", func(t *testing.T) {
		for _, args := range [][]string{
			{"bench", "pubsub", "--qos", "3", "--url", url},
			{"bench", "pubsub", "tcp://127.0.0.1:1"},
			{"bench", "connect", "--connections", "0", "--url", url},
			{"bench", "fleet", "--clients", "0", "--url", url},
		} {
			out, code := testutil.Run(t, "", time.Minute, bin, args...)
			if code != 2 || !strings.HasPrefix(out, "mqtls: error: ") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
				t.Errorf("%v: exit %d, want 2 and one error line:\n%s", args, code, out)
			}
		}
	})
	t.Run("unreachable broker", func(t *testing.T) {
		out, code := testutil.Run(t, "", time.Minute, bin, "bench", "pubsub", "--duration", "200ms", "--url", "tcp://"+testutil.Addr(testutil.FreePort(t)))
		if code != 1 || !strings.Contains(out, "mqtls: error: connect") {
			t.Errorf("exit %d, want 1 and a connect error:\n%s", code, out)
		}
	})
}
