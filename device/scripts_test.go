package device_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/internal/testutil"
)

// script runs one of the onboarding scripts the way a user does, with the
// fleet's folders in its environment.
func (f *fleet) script(t *testing.T, name string, args ...string) (string, int) {
	t.Helper()
	testutil.Need(t, "bash")
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("bash", append([]string{filepath.Join(wd, "..", "scripts", name)}, args...)...)
	cmd.Dir = f.dir
	cmd.Env = append(os.Environ(), "MQTLS="+testutil.Mqtls(t), "MQTLS_PKI="+f.pki, "DYNSEC_FILE="+f.dsFile,
		"BROKER_HOST=liot.com", "BUNDLE_DIR="+filepath.Join(f.dir, "bundles"))
	out, err := cmd.CombinedOutput()
	code := 0
	if err != nil {
		ee, ok := err.(*exec.ExitError)
		if !ok {
			t.Fatal(err)
		}
		code = ee.ExitCode()
	}
	return string(out), code
}

func TestScriptOnboardDevice(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	out, code := f.script(t, "onboard-device.sh", "DSN000201", "sensor")
	if code != 0 {
		t.Fatalf("exit %d\n%s", code, out)
	}
	for _, want := range []string{"DSN000201: added", `"host": "liot.com"`, `"sensors/DSN000201/data"`, "DSN000201.zip"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f.checkDevices(t, map[string]string{"DSN000201": "sensor"})
	if out, code := f.script(t, "onboard-device.sh"); code != 2 {
		t.Errorf("no argument: exit %d\n%s", code, out)
	}
}

func TestScriptOnboardCSV(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	csv := "id,role,group,days\nDSN000301,device,,\nDSN000302,sensor,plant1,\nbad+id,device,,\n"
	if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.script(t, "onboard-csv.sh", "devices.csv")
	if code != 1 || !strings.Contains(out, "line 4: bad+id") || !strings.Contains(out, "bundles: 2 in") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	f.checkDevices(t, map[string]string{"DSN000301": "device", "DSN000302": "sensor"})
	for _, p := range []string{"DSN000301.zip", "DSN000302/connection.json"} {
		if _, err := os.Stat(filepath.Join(f.dir, "bundles", p)); err != nil {
			t.Error(err)
		}
	}
}

func TestScriptRotateExpiring(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	if out, code := f.mqtls(t, "device", "add", "DSN000401", "--days", "10", "-f", f.dsFile); code != 0 {
		t.Fatalf("add: %d\n%s", code, out)
	}
	if out, code := f.mqtls(t, "device", "add", "DSN000402", "-f", f.dsFile); code != 0 {
		t.Fatalf("add: %d\n%s", code, out)
	}
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatal(err)
	}
	old, _, _ := a.Lookup("DSN000401")
	keep, _, _ := a.Lookup("DSN000402")

	out, code := f.script(t, "rotate-expiring.sh", "30")
	if code != 0 || !strings.Contains(out, "renewed DSN000401") || strings.Contains(out, "DSN000402") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	renewed, _, _ := a.Lookup("DSN000401")
	if renewed.Serial == old.Serial || !renewed.Current {
		t.Errorf("DSN000401 not renewed: %+v", renewed)
	}
	// The renewed device stays online on its old certificate for the
	// renewal grace, while its new bundle is delivered.
	if e, _, _ := a.Lookup(old.Serial); e.Revoked || !e.Pending(time.Now()) || e.GraceUntil.Before(time.Now().Add(6*24*time.Hour)) {
		t.Errorf("old certificate: %+v", e)
	}
	if e, _, _ := a.Lookup("DSN000402"); e.Serial != keep.Serial {
		t.Error("a certificate far from expiry was renewed")
	}
	if _, err := os.Stat(filepath.Join(f.dir, "bundles", "DSN000401.zip")); err != nil {
		t.Error(err)
	}
	f.checkDevices(t, map[string]string{"DSN000401": "device", "DSN000402": "device"})
	// The new certificate lasts 10 days again (renew keeps the profile):
	// nothing expires within 5 days.
	if out, code := f.script(t, "rotate-expiring.sh", "5"); code != 0 || !strings.Contains(out, "no device certificate expires") {
		t.Fatalf("second run: exit %d\n%s", code, out)
	}
}
