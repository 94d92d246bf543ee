package watch

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// syncBuffer is a buffer that Run writes while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestRunAgainstMosquitto: Run draws frames of what a real broker sends,
// returns nil when its context ends and ErrLost
// when the broker goes away.
func TestRunAgainstMosquitto(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	dir := t.TempDir()
	acl := filepath.Join(dir, "acl")
	if err := os.WriteFile(acl, []byte("topic readwrite plant/#\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	broker := testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nacl_file %s\n", port, acl))
	if out, code := testutil.Run(t, "", 10*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port),
		"-t", "plant/line1/state", "-m", "online", "-r", "-q", "1"); code != 0 {
		t.Fatalf("mosquitto_pub: %d %s", code, out)
	}
	connect := func() *client.Conn {
		t.Helper()
		c, err := client.Connect(context.Background(), client.Options{Host: "127.0.0.1", Port: port})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	// live frames, then a clean stop when the context ends
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("frames:\n%s", out.String())
		}
	})
	conn := connect()
	go func() {
		done <- Run(ctx, conn, &out, Options{
			Filters: []string{"plant/#"}, Interval: 20 * time.Millisecond, Header: "watch test",
		})
	}()
	testutil.WaitFor(t, 10*time.Second, "a frame with the retained topic", func() bool {
		return strings.Contains(out.String(), "    state                             1         R q0  online")
	})
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after its context ended: %v", err)
	}
	if !strings.HasPrefix(out.String(), "\nwatch test  ") {
		t.Errorf("a frame starts with a blank line and the header:\n%s", out.String())
	}

	// the broker goes away: ErrLost
	done2 := make(chan error, 1)
	conn2, out2 := connect(), &syncBuffer{}
	go func() { done2 <- Run(context.Background(), conn2, out2, Options{Interval: time.Hour}) }()
	testutil.WaitFor(t, 10*time.Second, "the first frame", func() bool { return strings.Contains(out2.String(), "topics") })
	broker.Kill()
	select {
	case err := <-done2:
		if !errors.Is(err, ErrLost) {
			t.Errorf("Run when the broker went away: %v, want ErrLost", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not notice the broker had gone")
	}

	if err := Run(context.Background(), nil, &syncBuffer{}, Options{Filters: []string{"a/#/b"}}); err == nil || !strings.Contains(err.Error(), `invalid filter "a/#/b"`) {
		t.Errorf("a bad filter: %v", err)
	}
}
