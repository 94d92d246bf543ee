package broker_test

import (
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestPersistenceSurvivesKill: retained messages and QoS 1/2 messages queued
// for an offline persistent session survive kill -9 and a restart, and the
// QoS 2 message is delivered once. Then SIGTERM shuts down cleanly and the
// store still holds what it should.
func TestPersistenceSurvivesKill(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	p := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\npersistence true\npersistence_location data\n", p)
	b := startBroker(t, dir, conf, p)
	args := func(more ...string) []string { return append([]string{"-h", "127.0.0.1", "-p", port(p)}, more...) }
	run := func(name string, a ...string) string {
		t.Helper()
		out, code := mosq(t, dir, name, args(a...)...)
		if code != 0 {
			t.Fatalf("%s %v: exit %d\n%s", name, a, code, out)
		}
		return out
	}
	run("mosquitto_sub", "-i", "keeper", "-c", "-q", "2", "-t", "q/#", "-E")
	run("mosquitto_pub", "-r", "-q", "1", "-t", "r/keep", "-m", "retained")
	for _, m := range []string{"a", "b", "c"} {
		run("mosquitto_pub", "-q", "1", "-t", "q/one", "-m", m)
	}
	run("mosquitto_pub", "-q", "2", "-t", "q/two", "-m", "exactly-once")

	b.Kill() // SIGKILL: no chance to flush anything
	b = restartBroker(t, b, p)
	b.waitLog(t, "running")

	// One more than expected, so that a duplicate would show; -W ends it.
	out, code := mosq(t, dir, "mosquitto_sub", args("-i", "keeper", "-c", "-q", "2", "-t", "q/#", "-v", "-C", "5", "-W", "4")...)
	if code != 27 {
		t.Errorf("keeper: exit %d, want 27 (timed out waiting for a 5th message)", code)
	}
	// In the order they were published (the same second for mochi).
	lines := strings.Split(strings.TrimSpace(strings.ReplaceAll(out, "Timed out\n", "")), "\n")
	if got := strings.Join(lines, "\n"); got != "q/one a\nq/one b\nq/one c\nq/two exactly-once" {
		t.Errorf("keeper after kill -9 got:\n%s\nwant q/one a, b, c and q/two once, in that order", out)
	}
	if out := run("mosquitto_sub", "-t", "r/#", "-v", "-C", "1", "-W", "10"); out != "r/keep retained\n" {
		t.Errorf("retained after kill -9: %q", out)
	}

	// SIGTERM: clean shutdown, exit 0, store intact.
	run("mosquitto_pub", "-q", "1", "-t", "q/one", "-m", "after-term")
	if err := b.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("broker exit %d after SIGTERM\n%s", code, b.Stderr())
	}
	// mochi's pebble hook left iterators open: pebble said so at close.
	if strings.Contains(b.Stderr(), "leaked") {
		t.Errorf("the store did not close cleanly:\n%s", b.Stderr())
	}
	restartBroker(t, b, p)
	if out := run("mosquitto_sub", "-i", "keeper", "-c", "-q", "1", "-t", "q/#", "-v", "-C", "1", "-W", "10"); out != "q/one after-term\n" {
		t.Errorf("after SIGTERM and restart: %q", out)
	}
}
