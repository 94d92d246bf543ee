package main

import (
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestCAExportForMosquitto: Debian's mosquitto, started as root without
// "user root", drops to user mosquitto before it reads its TLS files. It
// cannot read them in the PKI folder (0700); from the folder that
// "mqtls ca export DIR --for mosquitto" writes it can, and then admits a
// device over mTLS and refuses the revoked one by the CRL.
func TestCAExportForMosquitto(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto", "mosquitto_pub")
	if os.Geteuid() != 0 {
		t.Skip("needs root: mosquitto drops to its own user only when started as root")
	}
	mu, err := user.Lookup("mosquitto")
	if err != nil {
		t.Skip("no mosquitto user on this system")
	}
	g, err := user.LookupGroup("mosquitto")
	if err != nil {
		t.Skip("no mosquitto group on this system")
	}
	dir := t.TempDir()
	mqOK(t, dir, nil, "ca", "init", "--no-password", "--insecure")
	mqOK(t, dir, nil, "cert", "server", "--host", "localhost", "--ip", "127.0.0.1")
	mqOK(t, dir, nil, "cert", "client", "DSN000001")
	mqOK(t, dir, nil, "cert", "client", "DSN000002")
	mqOK(t, dir, nil, "cert", "revoke", "DSN000002")
	pki := filepath.Join(dir, "pki")

	// Refusals, with nothing written.
	if _, e, code := mq(t, dir, nil, "ca", "export", filepath.Join(pki, "out"), "--for", "mosquitto"); code != 1 || !strings.Contains(e, "inside the PKI folder") {
		t.Errorf("export into the PKI folder: exit %d %s", code, e)
	}
	if _, e, code := mq(t, dir, nil, "ca", "export", "out", "--for", "nginx"); code != 2 || !strings.Contains(e, "only mosquitto") {
		t.Errorf("--for nginx: exit %d %s", code, e)
	}
	if _, e, code := mq(t, dir, nil, "ca", "export", "out", "--for", "mosquitto", "--name", "DSN000001"); code != 1 || !strings.Contains(e, "not a server certificate") {
		t.Errorf("a client certificate: exit %d %s", code, e)
	}
	if _, err := os.Stat(filepath.Join(dir, "out")); err == nil {
		t.Errorf("a refused export created its folder")
	}

	// The folder Mosquitto reads from must be reachable by its user, as
	// /etc/mosquitto is: t.TempDir's folders are 0700.
	parent, err := os.MkdirTemp("", "mqtls-export-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(parent) })
	if err := os.Chmod(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(parent, "certs")
	printed := mqOK(t, dir, nil, "ca", "export", out, "--for", "mosquitto")
	if !strings.Contains(printed, "keyfile "+filepath.Join(out, "server.key")) {
		t.Errorf("export output lacks the keyfile line:\n%s", printed)
	}
	if m := perm(t, out); m != 0o755 {
		t.Errorf("folder mode %o, want 755", m)
	}
	for name, want := range map[string]os.FileMode{"ca.crt": 0o644, "server.crt": 0o644, "crl.pem": 0o644, "server.key": 0o640} {
		if m := perm(t, filepath.Join(out, name)); m != want {
			t.Errorf("%s mode %o, want %o", name, m, want)
		}
	}
	st, err := os.Stat(filepath.Join(out, "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	if gid := st.Sys().(*syscall.Stat_t).Gid; fmt.Sprint(gid) != g.Gid {
		t.Errorf("server.key group %d, want mosquitto (%s)", gid, g.Gid)
	}

	conf := func(port int, cafile, certfile, keyfile, crlfile string) string {
		path := filepath.Join(t.TempDir(), "mosquitto.conf")
		body := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\ncrlfile %s\nrequire_certificate true\nuse_identity_as_username true\nlog_dest stderr\nlog_type all\n",
			port, cafile, certfile, keyfile, crlfile)
		if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}

	// From the PKI folder itself it cannot start.
	port := testutil.FreePort(t)
	bad := testutil.Start(t, dir, "mosquitto", "-c", conf(port, filepath.Join(pki, "chain.pem"),
		filepath.Join(pki, "issued/server.crt"), filepath.Join(pki, "issued/server.key"), filepath.Join(pki, "crl.pem")))
	if code := bad.Wait(t, 20*time.Second); code == 0 || !strings.Contains(bad.Stderr(), "Permission denied") {
		t.Errorf("mosquitto with files in the 0700 PKI folder: exit %d\n%s", code, bad.Stderr())
	}

	port = testutil.FreePort(t)
	broker := testutil.Start(t, dir, "mosquitto", "-c", conf(port, filepath.Join(out, "ca.crt"),
		filepath.Join(out, "server.crt"), filepath.Join(out, "server.key"), filepath.Join(out, "crl.pem")))
	testutil.WaitPort(t, broker, testutil.Addr(port))
	if uid := procUID(t, broker.Cmd.Process.Pid); uid != mu.Uid {
		t.Fatalf("mosquitto runs as uid %s, want the mosquitto user's %s", uid, mu.Uid)
	}
	pub := func(id string) (string, int) {
		return testutil.Run(t, pki, 30*time.Second, "mosquitto_pub", "-d", "-h", "127.0.0.1", "-p", fmt.Sprint(port),
			"--cafile", "root.crt", "--cert", "issued/"+id+".crt", "--key", "issued/"+id+".key",
			"-i", id, "-t", "test/topic", "-m", "hello")
	}
	if o, code := pub("DSN000001"); code != 0 || !strings.Contains(o, "received CONNACK (0)") {
		t.Fatalf("mosquitto refused the valid device: exit %d\n%s", code, o)
	}
	if o, code := pub("DSN000002"); code == 0 || strings.Contains(o, "CONNACK") {
		t.Errorf("mosquitto accepted the revoked device: exit %d\n%s", code, o)
	}
	testutil.WaitFor(t, 10*time.Second, "the broker to refuse the revoked certificate", func() bool {
		return strings.Contains(broker.Stderr(), "certificate verify failed")
	})
}

// procUID returns the real user id of a running process.
func procUID(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if f := strings.Fields(l); len(f) > 1 && f[0] == "Uid:" {
			return f[1]
		}
	}
	t.Fatalf("no Uid line in /proc/%d/status", pid)
	return ""
}
