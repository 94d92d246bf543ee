package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/conf"
	"mqtls/internal/testutil"
)

type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestInProcessConcurrency runs the broker inside the test process, so that
// `go test -race` sees its hooks: concurrent subscribers and publishers,
// subscriptions racing deliveries, kicks, reloads and shutdown.
func TestInProcessConcurrency(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub", "mosquitto_passwd")
	dir := t.TempDir()
	pw := filepath.Join(dir, "passwd")
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", pw, "u", "u-pw"); code != 0 {
		t.Fatal(out)
	}
	os.WriteFile(filepath.Join(dir, "acl"), []byte("user u\ntopic readwrite race/#\ntopic deny race/no/#\n"), 0o600)
	p := testutil.FreePort(t)
	cfg, err := conf.Parse("race.conf", []byte(fmt.Sprintf("listener %d 127.0.0.1\npassword_file %s\nacl_file %s\nlog_type all\n", p, pw, filepath.Join(dir, "acl"))))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	b, err := New(cfg, slog.New(newLineHandler(logs, slog.LevelDebug)), Options{ConnectTimeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	args := func(more ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", fmt.Sprint(p), "-u", "u", "-P", "u-pw"}, more...)
	}
	var subs []*testutil.Proc
	for i := range 3 {
		subs = append(subs, testutil.Start(t, dir, "mosquitto_sub", args("-V", "5", "-i", fmt.Sprint("s", i), "-q", "1", "-t", "race/#", "-t", "race/a", "-C", "30")...))
	}
	testutil.WaitFor(t, 10*time.Second, "subscriptions", func() bool { return strings.Count(logs.String(), " race/a\n") == 3 })
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			topic := "race/a"
			if i == 3 {
				topic = "race/no/x"
			}
			testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", args("-V", "5", "-q", "1", "-t", topic, "-m", "m", "--repeat", "10")...)
		}()
	}
	wg.Add(2)
	go func() { defer wg.Done(); b.Reload() }()
	go func() {
		defer wg.Done()
		testutil.Run(t, dir, 20*time.Second, "mosquitto_sub", args("-i", "late", "-t", "race/#", "-W", "1")...)
	}()
	wg.Wait()
	for _, s := range subs {
		select {
		case <-s.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("subscriber did not get its messages:\n%s", logs.String())
		}
		if n := strings.Count(s.Stdout(), "m\n"); n != 30 {
			t.Errorf("subscriber got %d messages, want 30 (3 publishers x 10, once each despite the overlapping filters)", n)
		}
	}
	// v5: a v3 client gets no DISCONNECT (3.1.1 has none from the server), so
	// mosquitto_sub would reconnect; a v5 one is told and exits.
	late := testutil.Start(t, dir, "mosquitto_sub", args("-V", "5", "-i", "kicked", "-t", "race/#")...)
	testutil.WaitFor(t, 10*time.Second, "late subscriber", func() bool { return strings.Contains(logs.String(), "as kicked") })
	b.Kick("u")
	select {
	case <-late.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("kicked client still connected")
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
}
