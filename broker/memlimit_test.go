package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// startBrokerEnv is startBroker with GOMEMLIMIT taken out of the
// environment (the test's own must not decide) and env added.
func startBrokerEnv(t *testing.T, dir, conf string, env []string, ports ...int) *brokerProc {
	t.Helper()
	path := filepath.Join(dir, "mqtls.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"-u", "GOMEMLIMIT"}, env...)
	args = append(args, testutil.Mqtls(t), "broker", "-c", path, "--connect-timeout", "2s")
	p := testutil.Start(t, dir, "env", args...)
	for _, port := range ports {
		testutil.WaitPort(t, p, testutil.Addr(port))
	}
	return &brokerProc{Proc: p, dir: dir, conf: path}
}

// softLimit asks the broker for its memory line (SIGUSR2) and returns the
// soft limit the running process holds, as the runtime reports it.
func softLimit(t *testing.T, b *brokerProc) string {
	t.Helper()
	n := strings.Count(b.Stderr(), "Freed memory")
	if err := b.Signal(syscall.SIGUSR2); err != nil {
		t.Fatal(err)
	}
	var line string
	testutil.WaitFor(t, 10*time.Second, "the broker's Freed memory line", func() bool {
		lines := strings.Split(b.Stderr(), "\n")
		seen := 0
		for _, l := range lines {
			if strings.Contains(l, "Freed memory") {
				if seen++; seen > n {
					line = l
					return true
				}
			}
		}
		return false
	})
	_, after, ok := strings.Cut(line, "soft limit ")
	if !ok {
		t.Fatalf("memory line without a soft limit: %q", line)
	}
	return strings.TrimSuffix(after, ".")
}

// TestMemorySoftLimitFromConfig: memory_soft_limit is logged at start and
// is the limit the running process holds; SIGHUP leaves it as it was, even
// when the file now says another.
func TestMemorySoftLimitFromConfig(t *testing.T) {
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBrokerEnv(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmemory_soft_limit 256MiB\n", p), nil, p)
	b.waitLog(t, "info: memory soft limit 256 MiB (memory_soft_limit in "+b.conf+")")
	if got := softLimit(t, b); got != "256 MiB" {
		t.Fatalf("the process's soft limit = %q, want 256 MiB", got)
	}
	if err := os.WriteFile(b.conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmemory_soft_limit 64MiB\n", p)), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := b.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	b.waitLog(t, "SIGHUP: reloading")
	if got := softLimit(t, b); got != "256 MiB" {
		t.Errorf("after SIGHUP the soft limit = %q, want 256 MiB still (set at start only)", got)
	}
	if n := strings.Count(b.Stderr(), "memory soft limit"); n != 1 {
		t.Errorf("%d memory soft limit lines, want the one at start", n)
	}
}

// TestMemorySoftLimitEnvironmentWins: GOMEMLIMIT is the runtime's own and
// wins over memory_soft_limit; the config's value is not applied silently
// over it, nor dropped silently: a warning says which one is ignored.
func TestMemorySoftLimitEnvironmentWins(t *testing.T) {
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBrokerEnv(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmemory_soft_limit 256MiB\n", p), []string{"GOMEMLIMIT=300MiB"}, p)
	b.waitLog(t, "warn: memory_soft_limit 256 MiB is ignored: GOMEMLIMIT=300MiB in the environment takes precedence; unset it to use the config file's")
	b.waitLog(t, "info: memory soft limit 300 MiB (GOMEMLIMIT=300MiB in the environment)")
	if got := softLimit(t, b); got != "300 MiB" {
		t.Errorf("the process's soft limit = %q, want GOMEMLIMIT's 300 MiB", got)
	}

	// Without the option, GOMEMLIMIT=off is no limit and no warning.
	dir = t.TempDir()
	p = testutil.FreePort(t)
	b = startBrokerEnv(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), []string{"GOMEMLIMIT=off"}, p)
	b.waitLog(t, "info: memory soft limit none (GOMEMLIMIT=off in the environment)")
	if got := softLimit(t, b); got != "none" {
		t.Errorf("the process's soft limit = %q, want none", got)
	}
	if strings.Contains(b.Stderr(), "warn:") {
		t.Errorf("a warning without memory_soft_limit:\n%s", b.Stderr())
	}
}

// TestMemorySoftLimitRefused: a value the option does not take stops the
// broker before it listens, with one line naming the file, line, option
// and the form it wants.
func TestMemorySoftLimitRefused(t *testing.T) {
	for v, want := range map[string]string{
		"512":  `mqtls.conf:2: memory_soft_limit: want a size of at least 16MiB such as 512MiB or 2GiB (suffixes B, KiB, MiB, GiB, TiB, as in GOMEMLIMIT), or 0 for no limit, got "512"`,
		"1.5G": `mqtls.conf:2: memory_soft_limit: want a size of at least 16MiB such as 512MiB or 2GiB (suffixes B, KiB, MiB, GiB, TiB, as in GOMEMLIMIT), or 0 for no limit, got "1.5G"`,
	} {
		dir := t.TempDir()
		path := filepath.Join(dir, "mqtls.conf")
		p := testutil.FreePort(t)
		if err := os.WriteFile(path, []byte(fmt.Sprintf("listener %d 127.0.0.1\nmemory_soft_limit %s\n", p, v)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := testutil.Run(t, dir, 30*time.Second, "env", "-u", "GOMEMLIMIT", testutil.Mqtls(t), "broker", "-c", path)
		if code != 1 || strings.Count(strings.TrimSpace(out), "\n") != 0 || !strings.Contains(out, want) {
			t.Errorf("memory_soft_limit %s: exit %d, output:\n%s\nwant exit 1 and one line with %q", v, code, out, want)
		}
	}
}
