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

// bench takes its password like every other command: the first line of a
// bounded --password-file, else $MQTT_PASSWORD; the old $MQTLS_PASSWORD
// still works with a warning. A real Mosquitto with a password file made
// by mosquitto_passwd judges the login.
func TestBenchPassword(t *testing.T) {
	testutil.Need(t, "mosquitto_passwd")
	bin := testutil.Mqtls(t)
	dir := t.TempDir()
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", "passwd", "bencher", "bench-secret"); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n",
		port, filepath.Join(dir, "passwd")))
	url := "tcp://" + testutil.Addr(port)
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	connect := func(extra ...string) (string, int) {
		args := append([]string{"bench", "connect", "--connections", "1", "--concurrency", "1", "--hold", "10ms", "--url", url, "-u", "bencher"}, extra...)
		return testutil.Run(t, "", time.Minute, bin, args...)
	}

	t.Run("first line of the file", func(t *testing.T) {
		out, code := connect("--password-file", write("two-lines", "bench-secret\r\nsecond line\n"))
		if code != 0 || !strings.Contains(out, "1 in") {
			t.Fatalf("exit %d, want 0:\n%s", code, out)
		}
	})
	t.Run("oversized file", func(t *testing.T) {
		out, code := connect("--password-file", write("huge", strings.Repeat("x", maxSecretFile+1)))
		if code != 1 || !strings.Contains(out, "larger than") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Fatalf("exit %d, want 1 and one line naming the limit:\n%s", code, out)
		}
	})
	t.Run("MQTT_PASSWORD", func(t *testing.T) {
		t.Setenv("MQTT_PASSWORD", "bench-secret")
		t.Setenv("MQTLS_PASSWORD", "")
		out, code := connect()
		if code != 0 || strings.Contains(out, "deprecated") {
			t.Fatalf("exit %d, want 0 without a warning:\n%s", code, out)
		}
	})
	t.Run("MQTLS_PASSWORD deprecated", func(t *testing.T) {
		t.Setenv("MQTT_PASSWORD", "")
		t.Setenv("MQTLS_PASSWORD", "bench-secret")
		out, code := connect()
		if code != 0 || !strings.Contains(out, "mqtls: warning: $MQTLS_PASSWORD is deprecated") {
			t.Fatalf("exit %d, want 0 and a deprecation warning:\n%s", code, out)
		}
	})
}
