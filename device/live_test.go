package device_test

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/device"
	"mqtls/internal/testutil"
)

// dynsecPlugin finds the dynamic security plugin of Debian's mosquitto
// package (its folder names the architecture).
func dynsecPlugin(t testing.TB) string {
	t.Helper()
	m, _ := filepath.Glob("/usr/lib/*/mosquitto_dynamic_security.so")
	if len(m) == 0 {
		t.Fatal("mosquitto_dynamic_security.so not found: install Debian's mosquitto package")
	}
	return m[0]
}

// The live mode against the real Mosquitto 2.0 with its dynamic security
// plugin: device add and device revoke go through $CONTROL, mosquitto_ctrl
// reads the result back, and Mosquitto disconnects the revoked device.
func TestLiveModeWithMosquitto(t *testing.T) {
	testutil.Need(t, "mosquitto", "mosquitto_ctrl", "mosquitto_sub")
	t.Parallel()
	f := newFleet(t)
	a, err := ca.Open(f.pki, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.IssueServer(ca.ServerOptions{Hosts: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
		t.Fatal(err)
	}
	port, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	m := testutil.Mosquitto(t, port, fmt.Sprintf(`per_listener_settings false
plugin %s
plugin_opt_config_file %s
log_dest stderr
log_type all
listener %d 127.0.0.1
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, dynsecPlugin(t), f.dsFile, port, tlsPort, a.ChainPath(), f.issued("server.crt"), f.issued("server.key")))
	testutil.WaitPort(t, m, testutil.Addr(tlsPort))
	live := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "--password-file", "admin.pw"}
	ctrl := func(args ...string) string {
		t.Helper()
		out, code := testutil.Run(t, f.dir, time.Minute, "mosquitto_ctrl", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "-P", adminPassword, "dynsec"}, args...)...)
		if code != 0 {
			t.Fatalf("mosquitto_ctrl %v: exit %d\n%s", args, code, out)
		}
		return out
	}

	out, code := f.mqtls(t, append([]string{"device", "add", "DSN000008", "--role", "sensor", "--group", "plant1"}, live...)...)
	if code != 0 {
		t.Fatalf("live device add: exit %d\n%s", code, out)
	}
	got := ctrl("getClient", "DSN000008")
	for _, want := range []string{"Username: DSN000008", "sensor", "plant1"} {
		if !strings.Contains(got, want) {
			t.Errorf("mosquitto_ctrl getClient lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "Disabled:  true") {
		t.Errorf("new client is disabled:\n%s", got)
	}
	// Adding it again through the broker changes nothing.
	if out, code := f.mqtls(t, append([]string{"device", "add", "DSN000008", "--role", "sensor"}, live...)...); code != 0 || !strings.Contains(out, "already onboarded") {
		t.Fatalf("second live add: exit %d\n%s", code, out)
	}
	// An unknown role is refused before anything is issued.
	if out, code := f.mqtls(t, append([]string{"device", "add", "DSN000009", "--role", "nosuch"}, live...)...); code != 1 || !strings.Contains(out, "unknown role") {
		t.Fatalf("live add with an unknown role: exit %d\n%s", code, out)
	}
	if _, ok, _ := a.Lookup("DSN000009"); ok {
		t.Error("a certificate was issued for a device whose role does not exist")
	}

	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000008", tlsPort, "-t", "sensors/DSN000008/cmd")...)
	testutil.WaitFor(t, 10*time.Second, "device connected", func() bool { return strings.Contains(m.Stderr(), "as DSN000008") })
	before := len(m.Stderr())
	out, code = f.mqtls(t, append([]string{"device", "revoke", "DSN000008"}, live...)...)
	if code != 0 || !strings.Contains(out, "dynamic security client disabled") {
		t.Fatalf("live revoke: exit %d\n%s", code, out)
	}
	revoked := time.Now()
	testutil.WaitFor(t, 10*time.Second, "Mosquitto disconnects the device", func() bool {
		return strings.Contains(m.Stderr()[before:], "Client DSN000008 disconnected")
	})
	t.Logf("Mosquitto disconnected the device %v after device revoke returned", time.Since(revoked).Round(10*time.Millisecond))
	sub.Kill()
	if got := ctrl("getClient", "DSN000008"); !strings.Contains(got, "Disabled:  true") && !strings.Contains(got, "Disabled: true") {
		t.Errorf("client not disabled after live revoke:\n%s", got)
	}
	if e, _, _ := a.Lookup("DSN000008"); !e.Revoked {
		t.Error("certificate not revoked")
	}
	// device list reads the clients from the broker too.
	out, code = f.mqtls(t, append([]string{"device", "list", "--json"}, live...)...)
	if code != 0 || !strings.Contains(out, `"disabled": true`) || !strings.Contains(out, `"sensor"`) {
		t.Fatalf("live list: exit %d\n%s", code, out)
	}
}

// The live mode against our broker process: it loads the dynamic security
// file from its config and holds its lock, so the device commands go through
// its $CONTROL API (mosquitto_ctrl, the oracle, reads the result back). The
// config has no crlfile: what cuts the revoked device off here is the
// disabled client alone (the broker kicks its session on the change and
// refuses it at CONNECT); the CRL path has its own test.
func TestLiveModeWithOurBroker(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_sub", "mosquitto_pub")
	t.Parallel()
	f := newFleet(t)
	b := f.ourBroker(t, brokerOpts{noCRL: true, inspector: true})
	live := b.live()
	ctrl := func(args ...string) string {
		t.Helper()
		out, code := testutil.Run(t, f.dir, time.Minute, "mosquitto_ctrl", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.adminPort), "-u", "admin", "-P", adminPassword, "dynsec"}, args...)...)
		if code != 0 {
			t.Fatalf("mosquitto_ctrl %v: exit %d\n%s", args, code, out)
		}
		return out
	}

	// The file is the broker's now: -f is refused and nothing is issued.
	if out, code := f.mqtls(t, "device", "add", "DSN000801", "-f", f.dsFile); code != 1 || !strings.Contains(out, "in use by a running broker") {
		t.Fatalf("add -f on the served file: exit %d\n%s", code, out)
	}
	out, code := f.mqtls(t, append([]string{"device", "add", "DSN000801", "--role", "device", "--group", "plant1"}, live...)...)
	if code != 0 || !strings.Contains(out, "DSN000801: added") {
		t.Fatalf("live device add: exit %d\n%s", code, out)
	}
	got := ctrl("getClient", "DSN000801")
	for _, want := range []string{"Username: DSN000801", "device", "plant1"} {
		if !strings.Contains(got, want) {
			t.Errorf("mosquitto_ctrl getClient lacks %q:\n%s", want, got)
		}
	}
	if out, code := f.mqtls(t, append([]string{"device", "add", "DSN000801"}, live...)...); code != 0 || !strings.Contains(out, "already onboarded") {
		t.Fatalf("second live add: exit %d\n%s", code, out)
	}
	if out, code := f.mqtls(t, append([]string{"device", "add", "DSN000802", "--role", "nosuch"}, live...)...); code != 1 || !strings.Contains(out, "unknown role") {
		t.Fatalf("live add with an unknown role: exit %d\n%s", code, out)
	}
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Lookup("DSN000802"); ok {
		t.Error("a certificate was issued for a device whose role does not exist")
	}

	// Import through the broker: bad rows reported, good ones onboarded.
	if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte("DSN000811,device,plant1,\nDSN000812,sensor,,\nDSN000813,nosuch,,\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code = f.mqtls(t, append([]string{"device", "import", "devices.csv"}, live...)...)
	if code != 1 || !strings.Contains(out, "3 devices: 2 added, 0 completed, 0 already done, 1 failed") || !strings.Contains(out, "DSN000813 (line 3)") {
		t.Fatalf("live import: exit %d\n%s", code, out)
	}
	if got := ctrl("listClients"); !strings.Contains(got, "DSN000811") || !strings.Contains(got, "DSN000812") || strings.Contains(got, "DSN000813") {
		t.Errorf("mosquitto_ctrl listClients after the live import:\n%s", got)
	}

	// Renew checks the client through the broker; the device connects with
	// the new certificate.
	old, _, _ := a.Lookup("DSN000801")
	out, code = f.mqtls(t, append([]string{"device", "renew", "DSN000801"}, live...)...)
	if code != 0 || !strings.Contains(out, "DSN000801: renewed") || strings.Contains(out, "no dynamic security client") {
		t.Fatalf("live renew: exit %d\n%s", code, out)
	}
	if e, _, _ := a.Lookup("DSN000801"); e.Serial == old.Serial {
		t.Fatal("renew kept the old certificate")
	}

	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000801", b.port, "-V", "5", "-t", "devices/DSN000801/#", "-v")...)
	b.waitLog(t, "u'DSN000801'")
	b.waitLog(t, "devices/DSN000801/#")

	// device list through the broker, with the inspector's connected state.
	out, code = f.mqtls(t, append([]string{"device", "list", "--json", "--inspector", b.inspector}, live...)...)
	if code != 0 {
		t.Fatalf("live list: exit %d\n%s", code, out)
	}
	var list []device.Device
	if err := json.Unmarshal([]byte(out), &list); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(list) != 3 {
		t.Fatalf("live list: %d devices\n%s", len(list), out)
	}
	if list[0].ID != "DSN000801" || !list[0].HasClient || list[0].Disabled || list[0].Connected == nil || !*list[0].Connected ||
		len(list[0].Roles) != 1 || list[0].Roles[0] != "device" {
		t.Fatalf("live list: %+v", list)
	}

	before := len(b.Stderr())
	out, code = f.mqtls(t, append([]string{"device", "revoke", "DSN000801"}, live...)...)
	if code != 0 || !strings.Contains(out, "dynamic security client disabled") {
		t.Fatalf("live revoke: exit %d\n%s", code, out)
	}
	revoked := time.Now()
	b.waitLogAfter(t, before, "(u'DSN000801') kicked: access changed")
	t.Logf("our broker kicked the device %v after device revoke returned", time.Since(revoked).Round(10*time.Millisecond))
	select {
	case <-sub.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("mosquitto_sub is still running after the broker kicked it")
	}
	// It cannot come back: its client is disabled.
	before = len(b.Stderr())
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000801", b.port, "-V", "5", "-t", "devices/DSN000801/x", "-m", "x")...)
	if code == 0 {
		t.Fatalf("revoked device connected again:\n%s", out)
	}
	b.waitLogAfter(t, before, `client "DSN000801" is disabled`)

	if got := ctrl("getClient", "DSN000801"); !strings.Contains(got, "Disabled:  true") && !strings.Contains(got, "Disabled: true") {
		t.Errorf("client not disabled after live revoke:\n%s", got)
	}
	if e, _, _ := a.Lookup("DSN000801"); !e.Revoked {
		t.Error("certificate not revoked")
	}
	out, code = f.mqtls(t, append([]string{"device", "list", "--json"}, live...)...)
	if code != 0 || !strings.Contains(out, `"disabled": true`) || !strings.Contains(out, `"revoked": true`) {
		t.Fatalf("live list after revoke: exit %d\n%s", code, out)
	}
	// A second revoke through the broker finds nothing left to do.
	out, code = f.mqtls(t, append([]string{"device", "revoke", "DSN000801"}, live...)...)
	if code != 0 || !strings.Contains(out, "already revoked") || !strings.Contains(out, "already disabled") {
		t.Fatalf("second live revoke: exit %d\n%s", code, out)
	}
}
