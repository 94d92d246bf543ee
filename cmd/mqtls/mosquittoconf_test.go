package main

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestDebianStockConfig: Debian's own /etc/mosquitto/mosquitto.conf (pid_file,
// persistence, log_dest file, include_dir), with its paths moved into a temp
// folder and a listener in the include_dir, runs unchanged under mqtls
// broker -c; Mosquitto's clients publish and subscribe; the pid file holds
// the broker's pid and is gone after SIGTERM.
func TestDebianStockConfig(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	stock, err := os.ReadFile("/etc/mosquitto/mosquitto.conf")
	if err != nil {
		t.Fatalf("Debian's mosquitto.conf: %v (install the mosquitto package)", err)
	}
	dir := t.TempDir()
	text := string(stock)
	for _, d := range []struct{ from, to string }{
		{"/run/mosquitto/", "run/"}, {"/var/lib/mosquitto/", "lib/"}, {"/var/log/mosquitto/", "log/"}, {"/etc/mosquitto/conf.d", "conf.d"},
	} {
		if !strings.Contains(text, d.from) {
			t.Fatalf("the stock file no longer names %s:\n%s", d.from, text)
		}
		text = strings.ReplaceAll(text, d.from, filepath.Join(dir, d.to)+"/")
		if err := os.MkdirAll(filepath.Join(dir, d.to), 0o700); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "mosquitto.conf"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "listener.conf"), []byte("listener "+strconv.Itoa(port)+" 127.0.0.1\nallow_anonymous true\nautosave_interval 1800\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Debian's conf.d holds a README: not a .conf file, not read.
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "README"), []byte("Any files placed in this directory ...\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mosquitto.conf")
	testutil.WaitPort(t, p, testutil.Addr(port))

	pidFile := filepath.Join(dir, "run", "mosquitto.pid")
	testutil.WaitFor(t, 10*time.Second, "the pid file", func() bool { _, err := os.Stat(pidFile); return err == nil })
	b, err := os.ReadFile(pidFile)
	if err != nil || strings.TrimSpace(string(b)) != strconv.Itoa(p.Cmd.Process.Pid) {
		t.Errorf("pid file %q (%v), want %d", b, err, p.Cmd.Process.Pid)
	}
	ps := strconv.Itoa(port)
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", ps, "-t", "stock/t", "-m", "hello", "-r", "-q", "1"); code != 0 {
		t.Fatalf("mosquitto_pub: %d %s", code, out)
	}
	out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_sub", "-h", "127.0.0.1", "-p", ps, "-t", "stock/#", "-C", "1", "-v")
	if code != 0 || out != "stock/t hello\n" {
		t.Errorf("mosquitto_sub: %d %q", code, out)
	}
	if err := p.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, 15*time.Second); code != 0 {
		t.Errorf("exit %d after SIGTERM", code)
	}
	if _, err := os.Stat(pidFile); !os.IsNotExist(err) {
		t.Errorf("pid file left after stop: %v", err)
	}
	log, err := os.ReadFile(filepath.Join(dir, "log", "mosquitto.log"))
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{
		"warn: " + filepath.Join(dir, "conf.d", "listener.conf") + ":3: autosave_interval: accepted and ignored",
		"New client connected from 127.0.0.1:",
	} {
		if !strings.Contains(string(log), w) {
			t.Errorf("log lacks %q:\n%s", w, log)
		}
	}
}

// TestConfigErrorsAllAtOnce: every problem of a file (and of its
// include_dir) is reported in one run, one line each.
func TestConfigErrorsAllAtOnce(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "conf.d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "conf.d", "a.conf"), []byte("listener 1884\nmax_qos 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.conf"), []byte("listner 1883\npersistance true\ninclude_dir conf.d\nmax_keepalive 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, stderr, code := mq(t, dir, nil, "broker", "-c", "bad.conf")
	want := []string{
		"mqtls: error: bad.conf:1: listner: unknown option: did you mean listener?",
		"mqtls: error: bad.conf:2: persistance: unknown option: did you mean persistence?",
		"mqtls: error: conf.d/a.conf:2: max_qos: mosquitto option not supported by mqtls: grant QoS per topic with ACLs",
		"mqtls: error: bad.conf:4: max_keepalive: want a number from 10 to 65535, got \"1\"",
	}
	lines := strings.Split(strings.TrimSpace(stderr), "\n")
	if code != 1 || len(lines) != len(want) {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q\nwant prefix %q", i+1, lines[i], w)
		}
	}
}
