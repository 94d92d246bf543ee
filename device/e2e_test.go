package device_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// One device end to end: device add, then Debian's Mosquitto clients with the
// issued certificate on our broker: allowed under devices/DSN000001/, denied
// elsewhere; the p12 opens with openssl and keytool.
func TestAddEndToEnd(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub", "openssl", "keytool")
	f := newFleet(t)
	out, code := f.mqtls(t, "device", "add", "DSN000001", "--role", "device", "--group", "plant1", "-f", f.dsFile)
	if code != 0 {
		t.Fatalf("device add: exit %d\n%s", code, out)
	}
	for _, name := range []string{"DSN000001.key", "DSN000001.p12", "DSN000001.p12.pass"} {
		st, err := os.Stat(f.issued(name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", name, st.Mode().Perm())
		}
	}

	// The p12 opens with its password file, in openssl and in keytool.
	p12, pass := f.issued("DSN000001.p12"), f.issued("DSN000001.p12.pass")
	out, code = testutil.Run(t, f.dir, time.Minute, "openssl", "pkcs12", "-in", p12, "-passin", "file:"+pass, "-nokeys", "-info")
	if code != 0 || !strings.Contains(out, "CN = DSN000001") && !strings.Contains(out, "CN=DSN000001") {
		t.Fatalf("openssl pkcs12: exit %d\n%s", code, out)
	}
	pw, err := os.ReadFile(pass)
	if err != nil {
		t.Fatal(err)
	}
	out, code = testutil.Run(t, f.dir, time.Minute, "keytool", "-list", "-storetype", "PKCS12", "-keystore", p12, "-storepass", strings.TrimSpace(string(pw)))
	if code != 0 || !strings.Contains(out, "PrivateKeyEntry") {
		t.Fatalf("keytool -list: exit %d\n%s", code, out)
	}

	b := f.ourBroker(t, brokerOpts{})
	port := b.port
	// A subscriber in the device's own subtree.
	sub := testutil.Start(t, f.dir, "mosquitto_sub", f.deviceArgs("DSN000001", port, "-i", "DSN000001-sub", "-V", "5", "-t", "devices/DSN000001/#", "-v", "-C", "1")...)
	b.waitLog(t, "DSN000001-sub")
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000001", port, "-V", "5", "-q", "1", "-t", "devices/DSN000001/temp", "-m", "21.5")...)
	if code != 0 {
		t.Fatalf("publish in its subtree: exit %d\n%s", code, out)
	}
	select {
	case <-sub.Done():
	case <-time.After(15 * time.Second):
		t.Fatalf("the subscriber did not get the message\n%s\n%s", sub.Stdout(), sub.Stderr())
	}
	if got := sub.Stdout(); !strings.Contains(got, "devices/DSN000001/temp 21.5") {
		t.Fatalf("subscriber got %q", got)
	}

	// Outside its subtree: the publish is refused (MQTT 5 PUBACK "not
	// authorized") and the subscription denied.
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_pub", f.deviceArgs("DSN000001", port, "-V", "5", "-q", "1", "-t", "devices/DSN000002/temp", "-m", "x")...)
	if !strings.Contains(out, "Not authorized") {
		t.Fatalf("publish outside its subtree was not refused: exit %d\n%s", code, out)
	}
	out, code = testutil.Run(t, f.dir, time.Minute, "mosquitto_sub", f.deviceArgs("DSN000001", port, "-V", "5", "-t", "devices/#", "-W", "5")...)
	if !strings.Contains(out, "All subscription requests were denied") {
		t.Fatalf("subscription outside its subtree: exit %d\n%s", code, out)
	}

	// Bundle: folder and zip, connection.json with the device's topics.
	out, code = f.mqtls(t, "device", "bundle", "DSN000001", "--host", "liot.com", "--out", "bundles", "-f", f.dsFile, "--qr")
	if code != 0 {
		t.Fatalf("bundle: exit %d\n%s", code, out)
	}
	cj, err := os.ReadFile(filepath.Join(f.dir, "bundles", "DSN000001", "connection.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"host": "liot.com"`, `"port": 8883`, `"devices/DSN000001/#"`, `"p12_password_file": "DSN000001.p12.pass"`} {
		if !strings.Contains(string(cj), want) {
			t.Errorf("connection.json lacks %s:\n%s", want, cj)
		}
	}
	if strings.Contains(out, strings.TrimSpace(string(pw))) || strings.Contains(string(cj), strings.TrimSpace(string(pw))) {
		t.Error("the p12 password leaked into the bundle output or connection.json")
	}
	out, code = testutil.Run(t, f.dir, time.Minute, "openssl", "x509", "-in", filepath.Join(f.dir, "bundles", "DSN000001", "ca.crt"), "-noout", "-subject")
	if code != 0 || !strings.Contains(out, "Root") {
		t.Errorf("bundle ca.crt: exit %d %s", code, out)
	}
}
