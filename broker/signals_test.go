package broker_test

import (
	"fmt"
	"syscall"
	"testing"

	"mqtls/internal/testutil"
)

// TestSignalsAsSoonAsItListens: SIGUSR2 and SIGHUP sent the moment the
// broker's port accepts connections are handled (freed memory, reload),
// and the broker goes on serving. The handlers were installed after the
// listeners opened and the "running" line, so a signal in between took
// Go's default and ended the broker: a reload from a service manager right
// after start, or the memory tests' first SIGUSR2 under load (2 of 2 runs
// of the broker package's tests).
func TestSignalsAsSoonAsItListens(t *testing.T) {
	for i := range 5 {
		dir := t.TempDir()
		p := testutil.FreePort(t)
		b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), p)
		for _, sig := range []syscall.Signal{syscall.SIGUSR2, syscall.SIGHUP} {
			if err := b.Signal(sig); err != nil {
				t.Fatalf("round %d: %v: %v", i, sig, err)
			}
		}
		b.waitLog(t, "SIGUSR2: Freed memory")
		b.waitLog(t, "SIGHUP: reloading")
		c, _, err := dialRaw(testutil.Addr(p), connectPacket(5, "after-signals", true, 0))
		if err != nil {
			t.Fatalf("round %d: no CONNACK after the signals: %v", i, err)
		}
		c.Close()
	}
}
