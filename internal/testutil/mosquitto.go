package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// Mosquitto starts Debian's mosquitto with the given config body (a
// "listener" line is up to the caller) and waits for port. The config gets
// "user root" so that the broker, started as root, does not drop to the
// mosquitto user and can read the test's 0600 files.
func Mosquitto(t testing.TB, port int, conf string) *Proc {
	t.Helper()
	Need(t, "mosquitto")
	dir := t.TempDir()
	path := filepath.Join(dir, "mosquitto.conf")
	body := conf
	if os.Geteuid() == 0 {
		body = "user root\n" + conf
	}
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := Start(t, dir, "mosquitto", "-c", path)
	WaitPort(t, p, Addr(port))
	return p
}
