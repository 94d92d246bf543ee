package device_test

import (
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// device revoke while the device is subscribed: our broker disconnects it
// (it polls crl.pem every second) and refuses it from then on; the dynamic
// security client is disabled in the same step.
func TestRevokeKicksSubscribedDevice(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	f := newFleet(t)
	if out, code := f.mqtls(t, "device", "add", "DSN000007", "-f", f.dsFile); code != 0 {
		t.Fatalf("device add: exit %d\n%s", code, out)
	}
	port, logs := f.ourBroker(t)
	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000007", port, "-V", "5", "-t", "devices/DSN000007/#", "-v")...)
	waitLog(t, logs, "u'DSN000007'")
	waitLog(t, logs, "devices/DSN000007/#")

	out, code := f.mqtls(t, "device", "revoke", "DSN000007", "--reason", "keyCompromise", "-f", f.dsFile)
	if code != 0 {
		t.Fatalf("device revoke: exit %d\n%s", code, out)
	}
	revoked := time.Now()
	for _, want := range []string{"revoked", "dynamic security client disabled"} {
		if !strings.Contains(out, want) {
			t.Errorf("revoke output lacks %q:\n%s", want, out)
		}
	}
	waitLog(t, logs, "(u'DSN000007') disconnected: certificate")
	t.Logf("kicked %v after device revoke returned", time.Since(revoked).Round(10*time.Millisecond))

	// It cannot come back.
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000007", port, "-i", "again", "-t", "devices/DSN000007/x", "-m", "x")...)
	if code == 0 {
		t.Fatalf("revoked device connected again:\n%s", out)
	}
	sub.Kill()

	s, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	if cl, err := s.Client("DSN000007"); err != nil || !cl.Disabled {
		t.Fatalf("dynamic security client after revoke: %+v, %v", cl, err)
	}
	// Running it again finds nothing left to do.
	out, code = f.mqtls(t, "device", "revoke", "DSN000007", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, "already revoked") {
		t.Fatalf("second revoke: exit %d\n%s", code, out)
	}
	// A revoked device is not re-added silently.
	out, code = f.mqtls(t, "device", "add", "DSN000007", "-f", f.dsFile)
	if code != 1 || !strings.Contains(out, "was revoked") {
		t.Fatalf("add of a revoked device: exit %d\n%s", code, out)
	}
}
