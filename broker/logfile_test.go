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

// log_dest file appends to an existing log file of ours and keeps its mode,
// creates a new one 0600, refuses a file that belongs to another user and
// leaves it as it was; a symbolic link in its place is refused and its
// target untouched.
func TestLogFileModeAndSymlink(t *testing.T) {
	t.Parallel()
	bin := testutil.Mqtls(t)

	t.Run("existing file keeps its mode", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		log := filepath.Join(dir, "broker.log")
		if err := os.WriteFile(log, []byte("older line\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		p := testutil.FreePort(t)
		b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest file %s\n", p, log), p)
		testutil.WaitFor(t, 10*time.Second, "a log line after the old one", func() bool {
			got, _ := os.ReadFile(log)
			return strings.HasPrefix(string(got), "older line\n") && len(got) > len("older line\n")
		})
		fi, err := os.Stat(log)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o644 {
			t.Errorf("log file mode %v, want 0644 as it was", fi.Mode().Perm())
		}
		b.Kill()
	})

	t.Run("new file 0600", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		log := filepath.Join(dir, "broker.log")
		p := testutil.FreePort(t)
		b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest file %s\n", p, log), p)
		testutil.WaitFor(t, 10*time.Second, "a log line", func() bool {
			got, _ := os.ReadFile(log)
			return len(got) > 0
		})
		fi, err := os.Stat(log)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("new log file mode %v, want 0600", fi.Mode().Perm())
		}
		b.Kill()
	})

	t.Run("file of another user refused", func(t *testing.T) {
		t.Parallel()
		if os.Geteuid() != 0 {
			t.Skip("needs root to give a file to another uid")
		}
		dir := t.TempDir()
		log := filepath.Join(dir, "passwd")
		if err := os.WriteFile(log, []byte("root:x:0:0\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(log, 65534, 65534); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "mqtls.conf")
		p := testutil.FreePort(t)
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest file %s\n", p, log)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := testutil.Run(t, dir, 20*time.Second, bin, "broker", "-c", conf)
		if code != 1 || !strings.Contains(out, "log_dest file "+log+" belongs to uid 65534") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 1 and one line about the owner:\n%s", code, out)
		}
		got, _ := os.ReadFile(log)
		fi, err := os.Stat(log)
		if err != nil {
			t.Fatal(err)
		}
		st := fi.Sys().(*syscall.Stat_t)
		if string(got) != "root:x:0:0\n" || fi.Mode().Perm() != 0o644 || st.Uid != 65534 {
			t.Errorf("file of another user changed: %q, mode %v, uid %d", got, fi.Mode().Perm(), st.Uid)
		}
	})

	t.Run("symlink refused", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		target := filepath.Join(dir, "other-file")
		if err := os.WriteFile(target, []byte("keep me\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		link := filepath.Join(dir, "broker.log")
		if err := os.Symlink(target, link); err != nil {
			t.Fatal(err)
		}
		conf := filepath.Join(dir, "mqtls.conf")
		p := testutil.FreePort(t)
		if err := os.WriteFile(conf, []byte(fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlog_dest file %s\n", p, link)), 0o600); err != nil {
			t.Fatal(err)
		}
		out, code := testutil.Run(t, dir, 20*time.Second, bin, "broker", "-c", conf)
		if code != 1 || !strings.Contains(out, "log_dest file "+link+" is a symbolic link") || strings.Count(strings.TrimSpace(out), "\n") != 0 {
			t.Errorf("exit %d, want 1 and one line about the link:\n%s", code, out)
		}
		got, _ := os.ReadFile(target)
		fi, err := os.Stat(target)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != "keep me\n" || fi.Mode().Perm() != 0o644 {
			t.Errorf("link target changed: %q, mode %v", got, fi.Mode().Perm())
		}
	})
}
