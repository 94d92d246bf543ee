package device_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// A device that makes its own key: device add --csr signs its CSR, writes
// no key and no p12, creates its client, and the real mosquitto_pub
// connects with the device's key and the signed certificate.
func TestAddWithCSR(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "openssl", "mosquitto_pub")
	f := newFleet(t)
	keyFile := filepath.Join(f.dir, "own.key")
	csr := filepath.Join(f.dir, "own.csr")
	out, err := exec.Command("openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", keyFile, "-subj", "/CN=DSN000700", "-addext", "basicConstraints=critical,CA:TRUE", "-out", csr).CombinedOutput()
	if err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	res, code := f.mqtls(t, "device", "add", "--csr", csr, "-f", f.dsFile)
	if code != 0 || !strings.Contains(res, "DSN000700: added") || !strings.Contains(res, "DSN000700.crt") {
		t.Fatalf("device add --csr: exit %d\n%s", code, res)
	}
	for _, ext := range []string{".key", ".p12", ".p12.pass"} {
		if _, err := os.Stat(f.issued("DSN000700" + ext)); !os.IsNotExist(err) {
			t.Errorf("device add --csr wrote %s (%v)", ext, err)
		}
	}
	// The same command again changes nothing; another key for the id is refused.
	if res, code := f.mqtls(t, "device", "add", "--csr", csr, "-f", f.dsFile); code != 0 || !strings.Contains(res, "nothing changed") {
		t.Errorf("device add --csr again: exit %d\n%s", code, res)
	}
	other := filepath.Join(f.dir, "other.csr")
	if out, err := exec.Command("openssl", "req", "-new", "-nodes", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-keyout", filepath.Join(f.dir, "other.key"), "-subj", "/CN=DSN000700", "-out", other).CombinedOutput(); err != nil {
		t.Fatalf("openssl req: %v\n%s", err, out)
	}
	if res, code := f.mqtls(t, "device", "add", "--csr", other, "-f", f.dsFile); code != 1 || !strings.Contains(res, "already issued for another key") {
		t.Errorf("device add --csr with another key: exit %d\n%s", code, res)
	}
	s, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Client("DSN000700"); err != nil || len(cl.Roles) != 1 || cl.Roles[0].Role != "device" {
		t.Fatalf("client DSN000700: %+v %v", cl, err)
	}

	b := f.ourBroker(t, brokerOpts{})
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.port), "--cafile", filepath.Join(f.pki, ca.ChainFile),
		"--cert", f.issued("DSN000700.crt"), "--key", keyFile, "-i", "DSN000700", "-t", "devices/DSN000700/up", "-m", "hi", "-q", "1"}
	if out, code := testutil.Run(t, f.dir, 20*time.Second, "mosquitto_pub", args...); code != 0 {
		t.Fatalf("mosquitto_pub with the device's own key: exit %d\n%s", code, out)
	}
}
