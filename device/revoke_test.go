package device_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// device revoke -f while the device is subscribed: the CRL path alone. The
// broker process serves its own copy of the dynamic security clients (its
// copy keeps the device enabled), so only the rewritten crl.pem, which the
// broker re-reads within a second, can cut the device off; it must be
// disconnected and refused from then on. The file's client is disabled in
// the same step.
func TestRevokeFileModeKicksThroughCRL(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	t.Parallel()
	f := newFleet(t)
	if out, code := f.mqtls(t, "device", "add", "DSN000007", "-f", f.dsFile); code != 0 {
		t.Fatalf("device add: exit %d\n%s", code, out)
	}
	served := filepath.Join(f.dir, "served-dynamic-security.json")
	data, err := os.ReadFile(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(served, data, 0o600); err != nil {
		t.Fatal(err)
	}
	b := f.ourBroker(t, brokerOpts{dsFile: served})
	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000007", b.port, "-V", "5", "-t", "devices/DSN000007/#", "-v")...)
	b.waitLog(t, "u'DSN000007'")
	b.waitLog(t, "devices/DSN000007/#")

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
	b.waitLog(t, "(u'DSN000007') disconnected: certificate")
	t.Logf("disconnected through the CRL %v after device revoke returned", time.Since(revoked).Round(10*time.Millisecond))
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("mosquitto_sub is still running after the broker disconnected it")
	}

	// It cannot come back: the handshake fails on the CRL.
	before := len(b.Stderr())
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000007", b.port, "-i", "again", "-t", "devices/DSN000007/x", "-m", "x")...)
	if code == 0 {
		t.Fatalf("revoked device connected again:\n%s", out)
	}
	b.waitLogAfter(t, before, "refused: TLS handshake")
	if after := b.Stderr()[before:]; !strings.Contains(after, "is revoked") {
		t.Errorf("the broker refused the handshake for another reason:\n%s", after)
	}

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

// device revoke through the broker with the whole configuration (dynamic
// security and crlfile), as users run it: both paths race to cut the device
// off (the disabled client kicks at once, the CRL is re-read within a
// second); whichever wins, the device is gone and refused from then on.
func TestRevokeLiveFullConfig(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	t.Parallel()
	f := newFleet(t)
	if out, code := f.mqtls(t, "device", "add", "DSN000009", "-f", f.dsFile); code != 0 {
		t.Fatalf("device add: exit %d\n%s", code, out)
	}
	b := f.ourBroker(t, brokerOpts{})
	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000009", b.port, "-V", "5", "-t", "devices/DSN000009/#", "-v")...)
	b.waitLog(t, "devices/DSN000009/#")
	before := len(b.Stderr())
	out, code := f.mqtls(t, append([]string{"device", "revoke", "DSN000009"}, b.live()...)...)
	if code != 0 || !strings.Contains(out, "dynamic security client disabled") {
		t.Fatalf("live revoke: exit %d\n%s", code, out)
	}
	revoked := time.Now()
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatalf("mosquitto_sub is still running after the revoke\n%s", b.Stderr()[before:])
	}
	t.Logf("disconnected %v after device revoke returned", time.Since(revoked).Round(10*time.Millisecond))
	if log := b.Stderr()[before:]; !strings.Contains(log, "(u'DSN000009') kicked: access changed") && !strings.Contains(log, "(u'DSN000009') disconnected: certificate") {
		t.Errorf("the broker log does not say why the device went:\n%s", log)
	}
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000009", b.port, "-i", "again", "-t", "devices/DSN000009/x", "-m", "x")...)
	if code == 0 {
		t.Fatalf("revoked device connected again:\n%s", out)
	}
}
