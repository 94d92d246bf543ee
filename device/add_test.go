package device_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/device"
	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// A certificate without its client (what a crash between the two leaves) is
// completed by device add; one whose files were never written is replaced.
func TestAddCompletesHalfDoneDevice(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	// A certificate issued, but no p12 and no client: the state a crash
	// after the certificate leaves.
	if out, code := f.mqtls(t, "cert", "client", "DSN000501"); code != 0 {
		t.Fatalf("cert client: %d\n%s", code, out)
	}
	out, code := f.mqtls(t, "device", "add", "DSN000501", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, "completed") {
		t.Fatalf("device add of a half-done device: exit %d\n%s", code, out)
	}
	f.checkDevices(t, map[string]string{"DSN000501": "device"})

	// An index line whose files were never written (a crash inside the
	// issue): the certificate is revoked and a new one issued.
	if out, code := f.mqtls(t, "cert", "client", "DSN000502"); code != 0 {
		t.Fatalf("cert client: %d\n%s", code, out)
	}
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatal(err)
	}
	lost, _, _ := a.Lookup("DSN000502")
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Remove(f.issued("DSN000502" + ext)); err != nil {
			t.Fatal(err)
		}
	}
	out, code = f.mqtls(t, "device", "add", "DSN000502", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, "added") {
		t.Fatalf("device add after a torn issue: exit %d\n%s", code, out)
	}
	if e, _, _ := a.Lookup(lost.Serial); !e.Revoked {
		t.Error("the certificate without files was not revoked")
	}
	f.checkDevices(t, map[string]string{"DSN000501": "device", "DSN000502": "device"})

	// A client that exists without a device certificate is not taken over.
	out, code = f.mqtls(t, "device", "add", "admin", "-f", f.dsFile)
	if code != 1 || !strings.Contains(out, "has no device certificate") {
		t.Fatalf("device add of an existing non-device client: exit %d\n%s", code, out)
	}
	if _, ok, _ := a.Lookup("admin"); ok {
		t.Error("a certificate was issued for an existing client")
	}
}

// failingTarget is the real file target with one command made to fail, as a
// broker that goes away mid-operation would.
type failingTarget struct {
	device.Target
	fail string
}

func (ft failingTarget) Exec(ctx context.Context, payload []byte) ([]byte, error) {
	if bytes.Contains(payload, []byte(`"command":"`+ft.fail+`"`)) {
		return nil, errors.New("connection lost")
	}
	return ft.Target.Exec(ctx, payload)
}

// A failure after the certificate is rolled back: the certificate is
// revoked, its files removed, no client is left, and a retry succeeds.
func TestAddRollsBack(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	a, err := ca.Open(f.pki, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []string{"createClient", "addClientRole", "addGroupClient"} {
		t.Run(step, func(t *testing.T) {
			real, err := device.OpenFile(f.dsFile)
			if err != nil {
				t.Fatal(err)
			}
			o := &device.Onboarder{CA: a, Target: failingTarget{real, step}}
			id := "RB-" + step
			_, err = o.Add(device.Spec{ID: id, Role: "device", Group: "plant1"})
			if err := real.Close(); err != nil {
				t.Fatal(err)
			}
			if err == nil || !strings.Contains(err.Error(), "rolled back") {
				t.Fatalf("add: %v", err)
			}
			e, ok, _ := a.Lookup(id)
			if !ok || !e.Revoked || e.Reason != "cessationOfOperation" {
				t.Errorf("certificate after rollback: %+v", e)
			}
			for _, ext := range []string{".crt", ".key", ".p12", ".p12.pass"} {
				if _, err := os.Stat(f.issued(id + ext)); !errors.Is(err, os.ErrNotExist) {
					t.Errorf("%s%s left behind: %v", id, ext, err)
				}
			}
			s, err := dynsec.Load(f.dsFile)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := s.Client(id); !errors.Is(err, dynsec.ErrNotFound) {
				t.Errorf("client left behind: %v", err)
			}
			// Once the target works again, the same add succeeds.
			tg, err := device.OpenFile(f.dsFile)
			if err != nil {
				t.Fatal(err)
			}
			res, err := (&device.Onboarder{CA: a, Target: tg}).Add(device.Spec{ID: id, Role: "device"})
			if cerr := tg.Close(); err == nil {
				err = cerr
			}
			if err != nil || res.Outcome != device.Added {
				t.Fatalf("retry: %+v, %v", res, err)
			}
		})
	}
}

// A file a running broker holds is refused, and nothing is issued.
func TestAddRefusesLockedFile(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	l, err := dynsec.Lock(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Unlock()
	out, code := f.mqtls(t, "device", "add", "DSN000601", "-f", f.dsFile)
	if code != 1 || !strings.Contains(out, "in use by a running broker") {
		t.Fatalf("exit %d\n%s", code, out)
	}
	a, _ := ca.Load(f.pki)
	if _, ok, _ := a.Lookup("DSN000601"); ok {
		t.Error("a certificate was issued although the file was locked")
	}
	// Misuse: no target at all, or both.
	if out, code := f.mqtls(t, "device", "add", "DSN000601"); code != 2 {
		t.Errorf("no target: exit %d\n%s", code, out)
	}
	if out, code := f.mqtls(t, "device", "add", "DSN000601", "-f", f.dsFile, "-h", "127.0.0.1"); code != 2 {
		t.Errorf("two targets: exit %d\n%s", code, out)
	}
}

// device list --json: role, expiry, revoked, and connected now from the
// broker's inspector.
func TestListConnected(t *testing.T) {
	testutil.Need(t, "mosquitto_sub")
	f := newFleet(t)
	for _, id := range []string{"DSN000701", "DSN000702", "DSN000703"} {
		if out, code := f.mqtls(t, "device", "add", id, "-f", f.dsFile); code != 0 {
			t.Fatalf("add: %d\n%s", code, out)
		}
	}
	if out, code := f.mqtls(t, "device", "revoke", "DSN000703", "-f", f.dsFile); code != 0 {
		t.Fatalf("revoke: %d\n%s", code, out)
	}
	b := f.ourBroker(t, brokerOpts{inspector: true})
	port, url := b.port, b.inspector
	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000701", port, "-t", "devices/DSN000701/#")...)
	b.waitLog(t, "u'DSN000701'")
	out, code := f.mqtls(t, "device", "list", "--json", "-f", f.dsFile, "--inspector", url)
	sub.Kill()
	if code != 0 {
		t.Fatalf("list: %d\n%s", code, out)
	}
	var list []device.Device
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(list) != 3 {
		t.Fatalf("%d devices listed:\n%s", len(list), out)
	}
	want := map[string]struct{ connected, revoked, disabled bool }{
		"DSN000701": {true, false, false}, "DSN000702": {false, false, false}, "DSN000703": {false, true, true},
	}
	for _, d := range list {
		w := want[d.ID]
		if d.Connected == nil || *d.Connected != w.connected || d.Revoked != w.revoked || d.Disabled != w.disabled ||
			len(d.Roles) != 1 || d.Roles[0] != "device" || !d.HasClient || time.Until(d.Expires) < 300*24*time.Hour {
			t.Errorf("%s: %+v, want %+v", d.ID, d, w)
		}
	}
	// Without an inspector, connected is unknown.
	out, code = f.mqtls(t, "device", "list", "--json")
	if code != 0 || !strings.Contains(out, `"connected": null`) {
		t.Fatalf("list without inspector: %d\n%s", code, out)
	}
}
