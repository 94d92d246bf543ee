package sandbox_test

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestDevSandbox starts `mqtls broker` without -c and pastes the commands of
// its "try it" block into a shell: they must work as printed.
func TestDevSandbox(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "sh")
	dir := t.TempDir()
	bin := testutil.Mqtls(t)
	p, tp, ip := testutil.FreePort(t), testutil.FreePort(t), testutil.FreePort(t)
	start := func() *testutil.Proc {
		// Started by name from the PATH, the "try it" block says "mqtls".
		pr := testutil.Start(t, dir, "env", "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"), "mqtls",
			"broker", "--dev-port", fmt.Sprint(p), "--dev-tls-port", fmt.Sprint(tp), "--dev-inspector", testutil.Addr(ip))
		testutil.WaitPort(t, pr, testutil.Addr(p))
		testutil.WaitPort(t, pr, testutil.Addr(tp))
		testutil.WaitFor(t, 10*time.Second, "try it block", func() bool { return strings.Contains(pr.Stdout(), "in a browser") })
		return pr
	}
	b := start()
	if !strings.Contains(b.Stderr(), "its CA key has no password") {
		t.Errorf("no warning about the password-less dev CA:\n%s", b.Stderr())
	}
	for _, f := range []string{"mqtls-dev", "mqtls-dev/pki", "mqtls-dev/admin.pass", "mqtls-dev/pki/issued/demo-device.p12"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s has mode %v, want no access for group and others", f, fi.Mode().Perm())
		}
	}
	cmds := map[string]string{}
	for _, ln := range strings.Split(b.Stdout(), "\n") {
		ln = strings.TrimSpace(ln)
		for _, prefix := range []string{"mqtls sub", "mqtls pub", "mosquitto_pub"} {
			if strings.HasPrefix(ln, prefix) {
				key := prefix
				if strings.Contains(ln, "-u admin") {
					key = "admin"
				}
				cmds[key] = ln
			}
		}
	}
	if len(cmds) != 4 {
		t.Fatalf("try it block has %d commands:\n%s", len(cmds), b.Stdout())
	}
	env := append(os.Environ(), "PATH="+filepath.Dir(bin)+":"+os.Getenv("PATH"))
	shell := func(cmd string) (string, int) {
		t.Helper()
		out, code := testutil.Run(t, dir, 20*time.Second, "env", append(envArgs(env), "sh", "-c", cmd)...)
		return out, code
	}
	sub := testutil.Start(t, dir, "env", append(envArgs(env), "sh", "-c", cmds["mqtls sub"]+" -C 2")...)
	testutil.WaitFor(t, 10*time.Second, "device subscription", func() bool {
		return strings.Contains(b.Stderr(), " 0 devices/demo-device/#")
	})
	adm := testutil.Start(t, dir, "env", append(envArgs(env), "sh", "-c", cmds["admin"]+" -C 2")...)
	testutil.WaitFor(t, 10*time.Second, "admin subscription", func() bool { return strings.Contains(b.Stderr(), " 0 #\n") })
	for _, k := range []string{"mosquitto_pub", "mqtls pub"} {
		if out, code := shell(cmds[k]); code != 0 {
			t.Fatalf("%s: exit %d\n%s", cmds[k], code, out)
		}
	}
	for name, pr := range map[string]*testutil.Proc{"device": sub, "admin": adm} {
		select {
		case <-pr.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("%s subscriber did not get 2 messages:\n%s\n%s", name, pr.Stdout(), pr.Stderr())
		}
		if n := strings.Count(pr.Stdout(), "devices/demo-device/temp 21.5"); n != 2 {
			t.Errorf("%s subscriber got:\n%s%s", name, pr.Stdout(), pr.Stderr())
		}
	}
	resp, err := http.Get("http://" + testutil.Addr(ip) + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
		t.Errorf("inspector page: %d", resp.StatusCode)
	}
	// the sandbox serves Prometheus metrics beside the page: the two
	// publishes above are counted (mochi delivers before its hooks hear of
	// a publish, so wait for the count)
	var metrics string
	testutil.WaitFor(t, 10*time.Second, "the sandbox's /metrics to count two publishes", func() bool {
		resp, err := http.Get("http://" + testutil.Addr(ip) + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("sandbox /metrics: %d %s", resp.StatusCode, body)
		}
		metrics = string(body)
		return strings.Contains(metrics, "mqtls_messages_received_total{qos=\"0\"} 2")
	})
	if !strings.Contains(metrics, "mqtls_connections ") {
		t.Errorf("sandbox /metrics lacks mqtls_connections:\n%s", metrics)
	}

	// SIGTERM, then a second start reuses the folder.
	pass, _ := os.ReadFile(filepath.Join(dir, "mqtls-dev", "admin.pass"))
	if err := b.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := b.Wait(t, 20*time.Second); code != 0 {
		t.Fatalf("exit %d after SIGTERM:\n%s", code, b.Stderr())
	}
	start()
	again, _ := os.ReadFile(filepath.Join(dir, "mqtls-dev", "admin.pass"))
	if string(again) != string(pass) {
		t.Error("second start replaced the admin password")
	}
}

func envArgs(env []string) []string { return append([]string{"-i"}, env...) }

// TestDevSandboxNamesItsPath: started by a path (as make run does with
// ./bin/mqtls) and not found on the PATH, the broker prints commands that
// call it by that path, so they work when pasted; a path or a sandbox
// folder with a space in it is quoted, so a shell reads each as one word.
func TestDevSandboxNamesItsPath(t *testing.T) {
	testutil.Need(t, "sh")
	dir := t.TempDir()
	bin := filepath.Join(dir, "my tools", "mqtls")
	if err := os.Mkdir(filepath.Dir(bin), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(testutil.Mqtls(t), bin); err != nil {
		t.Fatal(err)
	}
	p, tp := testutil.FreePort(t), testutil.FreePort(t)
	pr := testutil.Start(t, dir, "env", "PATH=/usr/bin:/bin", bin, "broker", "--dev-dir", "my sandbox", "--dev-port", fmt.Sprint(p),
		"--dev-tls-port", fmt.Sprint(tp), "--dev-inspector", "")
	testutil.WaitFor(t, 15*time.Second, "try it block", func() bool { return strings.Contains(pr.Stdout(), "-u admin") })
	var lines []string
	for _, ln := range strings.Split(pr.Stdout(), "\n") {
		if ln = strings.TrimSpace(ln); strings.HasPrefix(ln, "'"+bin+"'") || strings.HasPrefix(ln, "mosquitto_pub ") {
			lines = append(lines, ln)
		}
	}
	if len(lines) != 4 {
		t.Fatalf("try it block does not call the binary by its path %s, quoted, in 4 commands:\n%s", bin, pr.Stdout())
	}
	for _, ln := range lines {
		// The shell's own reading of the line: its words, one a line.
		out, code := testutil.Run(t, dir, 10*time.Second, "sh", "-c", "for w in "+ln+"; do printf '%s\\n' \"$w\"; done")
		words := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
		if code != 0 || (words[0] != bin && words[0] != "mosquitto_pub") {
			t.Errorf("sh reads %q as %q (exit %d)", ln, words, code)
			continue
		}
		for i, w := range words {
			switch w {
			case "--cafile", "--cert", "--key", "--p12", "--p12-password-file", "--password-file":
				f := ""
				if i+1 < len(words) {
					f = words[i+1]
				}
				if !filepath.IsAbs(f) {
					f = filepath.Join(dir, f)
				}
				if _, err := os.Stat(f); err != nil {
					t.Errorf("sh reads %s's file in %q as %q: %v", w, ln, words[i+1:], err)
				}
			}
		}
	}
}
