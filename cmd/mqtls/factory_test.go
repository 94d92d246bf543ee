package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"mqtls/internal/testutil"
)

// TestScriptFactoryEnroll: scripts/factory-enroll.sh puts a claim into a
// firmware image, and the device enrolls from it on its first boot (and
// only then), against the broker process.
func TestScriptFactoryEnroll(t *testing.T) {
	testutil.Need(t, "bash", "install")
	e := newEnrollEnv(t)
	mqOK(t, e.dir, []string{"MQTLS_CA_PASSWORD=correct horse battery"}, "cert", "claim", "line7", "--max-uses", "10")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	run := func(script string, args ...string) (string, int) {
		t.Helper()
		cmd := exec.Command("bash", append([]string{script}, args...)...)
		cmd.Dir = e.dir
		cmd.Env = append(os.Environ(), "MQTLS="+testutil.Mqtls(t), "MQTLS_PKI="+e.pki, "BROKER_HOST=localhost",
			"BROKER_PORT="+strconv.Itoa(e.enroll), "MQTLS_CA_PASSWORD=")
		out, err := cmd.CombinedOutput()
		if ee, ok := err.(*exec.ExitError); ok {
			return string(out), ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(out), 0
	}
	script := filepath.Join(wd, "..", "..", "scripts", "factory-enroll.sh")
	if out, code := run(script, "image", "fw"); code != 2 {
		t.Errorf("missing argument: exit %d\n%s", code, out)
	}
	if out, code := run(script, "image", "fw", "nosuch"); code != 1 || !strings.Contains(out, "mqtls cert claim nosuch") {
		t.Errorf("unknown claim: exit %d\n%s", code, out)
	}
	if out, code := run(script, "image", "fw", "line7"); code != 0 {
		t.Fatalf("image: exit %d\n%s", code, out)
	}
	img := filepath.Join(e.dir, "fw", "mqtls")
	for name, mode := range map[string]os.FileMode{"claim.crt": 0o644, "claim.key": 0o600, "ca.crt": 0o644, "broker.env": 0o644, "factory-enroll.sh": 0o755} {
		if got := perm(t, filepath.Join(img, name)); got != mode {
			t.Errorf("image %s: mode %o, want %o", name, got, mode)
		}
	}

	// First boot, with the script from the image.
	boot := filepath.Join(img, "factory-enroll.sh")
	out, code := run(boot, "first-boot", "fw", "data", "DSN000101")
	if code != 0 || !strings.Contains(out, "issued DSN000101") || !strings.Contains(out, "logged in as DSN000101") {
		t.Fatalf("first boot: exit %d\n%s", code, out)
	}
	data := filepath.Join(e.dir, "data")
	crt, key := filepath.Join(data, "DSN000101.crt"), filepath.Join(data, "DSN000101.key")
	if perm(t, key) != 0o600 || perm(t, data) != 0o700 {
		t.Errorf("modes: key %o, data folder %o", perm(t, key), perm(t, data))
	}
	if r := runTool(t, []string{"mosquitto_pub"}, "-h", "localhost", "-p", strconv.Itoa(e.plain), "--cafile", filepath.Join(data, "ca.crt"),
		"--cert", crt, "--key", key, "-t", "devices/DSN000101/boot", "-m", "up"); r.code != 0 {
		t.Errorf("the enrolled device: %+v", r)
	}
	// Later boots leave the enrolled device alone.
	before := readFile(t, crt)
	if out, code := run(boot, "first-boot", "fw", "data", "DSN000101"); code != 0 || !strings.Contains(out, "enrolled already") {
		t.Errorf("second boot: exit %d\n%s", code, out)
	}
	if string(readFile(t, crt)) != string(before) {
		t.Errorf("the second boot changed the certificate")
	}
}
