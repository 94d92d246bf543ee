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

// TestArgvPasswordWarning: every command that takes -P (pub, sub, watch,
// topic lint --from-broker) logs in with it and prints one warning line
// that the password is visible to other users, the same line from each; a
// -L URL with user:password@ gets it too, --password-file does not, and
// --quiet silences it. A real Mosquitto with a mosquitto_passwd file judges
// the login.
func TestArgvPasswordWarning(t *testing.T) {
	testutil.Need(t, "mosquitto_passwd", "mosquitto_pub")
	bin := testutil.Mqtls(t)
	dir := t.TempDir()
	const secret = "argv-secret-7"
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_passwd", "-c", "-b", "passwd", "alice", secret); code != 0 {
		t.Fatalf("mosquitto_passwd: %s", out)
	}
	pwFile := filepath.Join(dir, "pw")
	if err := os.WriteFile(pwFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file %s\n",
		port, filepath.Join(dir, "passwd")))
	p := fmt.Sprint(port)
	// A retained message lets sub, watch and lint finish at once.
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-p", p, "-u", "alice", "-P", secret,
		"-t", "argv/t", "-m", "1", "-r"); code != 0 {
		t.Fatalf("mosquitto_pub: %s", out)
	}
	const warning = "mqtls: warning: a password on the command line is visible to every user of this machine: give it with --password-file FILE or $MQTT_PASSWORD\n"

	commands := map[string][]string{
		"pub":                      {"pub", "-t", "argv/p", "-m", "x"},
		"sub":                      {"sub", "-t", "argv/t", "-C", "1", "-W", "10"},
		"watch":                    {"watch", "--once", "--wait", "200ms", "-t", "argv/#"},
		"topic lint --from-broker": {"topic", "lint", "--from-broker", "-t", "argv/#", "-C", "1", "-W", "10"},
	}
	for name, args := range commands {
		t.Run(name, func(t *testing.T) {
			run := func(extra ...string) (string, int) {
				return testutil.Run(t, dir, 30*time.Second, bin, append(append([]string{}, args...), extra...)...)
			}
			out, code := run("-h", "127.0.0.1", "-p", p, "-u", "alice", "-P", secret)
			if code != 0 || strings.Count(out, warning) != 1 {
				t.Errorf("-P: exit %d, want 0 and the warning once:\n%s", code, out)
			}
			if strings.Contains(out, secret) {
				t.Errorf("-P: the output shows the password:\n%s", out)
			}
			out, code = run("-L", fmt.Sprintf("mqtt://alice:%s@127.0.0.1:%d/argv/u", secret, port))
			if code != 0 || strings.Count(out, warning) != 1 {
				t.Errorf("-L with a password: exit %d, want 0 and the warning once:\n%s", code, out)
			}
			out, code = run("-h", "127.0.0.1", "-p", p, "-u", "alice", "--password-file", pwFile)
			if code != 0 || strings.Contains(out, "warning: a password") {
				t.Errorf("--password-file: exit %d, want 0 without the warning:\n%s", code, out)
			}
		})
	}
	out, code := testutil.Run(t, dir, 30*time.Second, bin, "pub", "-t", "argv/p", "-m", "x", "-p", p, "-u", "alice", "-P", secret, "--quiet")
	if code != 0 || strings.Contains(out, "warning") {
		t.Errorf("pub --quiet -P: exit %d, want 0 and no warning:\n%s", code, out)
	}
}
