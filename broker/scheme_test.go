package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestTopicScheme: topic_scheme_mode enforce drops publishes outside the
// scheme (v5 QoS 1: PUBACK 0x90); log mode delivers them and logs.
func TestTopicScheme(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	scheme, err := os.ReadFile("../topic/testdata/scheme.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"enforce", "log"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "scheme.yaml"), scheme, 0o600); err != nil {
				t.Fatal(err)
			}
			p := testutil.FreePort(t)
			b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\ntopic_scheme scheme.yaml\ntopic_scheme_mode %s\nlog_type all\n", p, mode), p)
			args := func(more ...string) []string { return append([]string{"-h", "127.0.0.1", "-p", port(p)}, more...) }
			sub := testutil.Start(t, dir, "mosquitto_sub", args("-i", "watch", "-t", "#", "-v")...)
			b.waitLog(t, "watch 0 #")
			out, _ := mosq(t, dir, "mosquitto_pub", args("-V", "5", "-q", "1", "-t", "random/topic", "-m", "x", "-d")...)
			if mode == "enforce" && !strings.Contains(out, "RC:144") {
				t.Errorf("v5 QoS 1 outside the scheme: want PUBACK reason 144:\n%s", out)
			}
			mosq(t, dir, "mosquitto_pub", args("-t", "other/topic", "-m", "y")...)
			if out, code := mosq(t, dir, "mosquitto_pub", args("-q", "1", "-t", "devices/DSN1/telemetry/temp", "-m", "21.5")...); code != 0 {
				t.Fatal(out)
			}
			testutil.WaitFor(t, 10*time.Second, "the valid message", func() bool {
				return strings.Contains(sub.Stdout(), "devices/DSN1/telemetry/temp 21.5")
			})
			sub.Kill()
			got := sub.Stdout()
			outside := strings.Contains(got, "random/topic") || strings.Contains(got, "other/topic")
			if mode == "enforce" && outside {
				t.Errorf("enforce delivered a publish outside the scheme:\n%s", got)
			}
			if mode == "log" && !(strings.Contains(got, "random/topic x") && strings.Contains(got, "other/topic y")) {
				t.Errorf("log mode did not deliver:\n%s", got)
			}
			b.waitLog(t, "topic \"random/topic\" is not in the topic scheme")
		})
	}
}
