package device_test

import (
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
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
