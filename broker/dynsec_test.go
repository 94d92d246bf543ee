package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestDynsecIdentity: with the dynamic security plugin line, Debian's
// mosquitto_ctrl administers our broker over $CONTROL, and certificate
// logins are checked against the dynsec clients: an unknown CN and a
// disabled client are refused at CONNECT (Mosquitto lets both in).
func TestDynsecIdentity(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	if out, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "admin-pw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %s", out)
	}
	ca := newTestCA(t, dir, "Dyn")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	ca.leaf("dev1", leafOpts{cn: "DSN000001"})
	ca.leaf("ghost", leafOpts{cn: "DSN000404"})
	plain, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf(`per_listener_settings false
listener %d 127.0.0.1
allow_anonymous false
plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file dynsec.json
log_type all

listener %d 127.0.0.1
cafile chain.pem
certfile server.crt
keyfile server.key
crlfile crl.pem
require_certificate true
use_identity_as_username true
`, plain, tlsPort)
	b := startBroker(t, dir, conf, plain, tlsPort)

	ctrl := func(args ...string) string {
		t.Helper()
		all := append([]string{"-h", "127.0.0.1", "-p", port(plain), "-u", "admin", "-P", "admin-pw", "dynsec"}, args...)
		out, code := mosq(t, dir, "mosquitto_ctrl", all...)
		if code != 0 || strings.Contains(out, "Error") {
			t.Fatalf("mosquitto_ctrl %v: exit %d: %s", args, code, out)
		}
		return out
	}
	ctrl("createRole", "device")
	ctrl("addRoleACL", "device", "publishClientSend", "devices/%u/#", "allow")
	ctrl("addRoleACL", "device", "subscribePattern", "devices/#", "allow")
	ctrl("createClient", "DSN000001", "-p", "dev-pw")
	ctrl("addClientRole", "DSN000001", "device")
	if out := ctrl("getClient", "DSN000001"); !strings.Contains(out, "Roles:    device") {
		t.Fatalf("getClient:\n%s", out)
	}
	tlsArgs := func(name string, more ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", port(tlsPort), "--cafile", "chain.pem", "--cert", name + ".crt", "--key", name + ".key"}, more...)
	}

	// The known device connects; its subscription and publish follow its role.
	sub := testutil.Start(t, dir, "mosquitto_sub", tlsArgs("dev1", "-i", "dev1-sub", "-t", "devices/#", "-v")...)
	b.waitLog(t, "dev1-sub 0 devices/#")
	if out, code := mosq(t, dir, "mosquitto_pub", tlsArgs("dev1", "-i", "dev1-pub", "-t", "devices/DSN000001/temp", "-m", "21")...); code != 0 {
		t.Fatal(out)
	}

	// CN unknown to dynsec: refused with "not authorised".
	for _, v := range []struct{ ver, code string }{{"311", "5"}, {"5", "135"}} {
		out, code := mosq(t, dir, "mosquitto_pub", tlsArgs("ghost", "-V", v.ver, "-t", "devices/DSN000404/x", "-m", "1")...)
		if fmt.Sprint(code) != v.code {
			t.Errorf("unknown CN (v%s): exit %d, want %s: %s", v.ver, code, v.code, out)
		}
	}
	b.waitLog(t, "certificate name \"DSN000404\" is not a dynamic security client")

	// Disabled client: the live session is kicked, a new one refused.
	ctrl("disableClient", "DSN000001")
	b.waitLog(t, "Client dev1-sub (u'DSN000001') kicked")
	out, code := mosq(t, dir, "mosquitto_pub", tlsArgs("dev1", "-t", "devices/DSN000001/temp", "-m", "22")...)
	if code != 5 {
		t.Errorf("disabled client: exit %d, want 5: %s", code, out)
	}
	b.waitLog(t, "client \"DSN000001\" is disabled")
	sub.Kill()
	if !strings.Contains(sub.Stdout(), "devices/DSN000001/temp 21") {
		t.Errorf("subscriber output:\n%s", sub.Stdout())
	}

	// The password login of the same client is refused too.
	if _, code := mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(plain), "-u", "DSN000001", "-P", "dev-pw", "-t", "devices/DSN000001/x", "-m", "1"); code != 5 {
		t.Errorf("disabled password login: exit %d, want 5", code)
	}
	ctrl("enableClient", "DSN000001")
	if out, code := mosq(t, dir, "mosquitto_pub", tlsArgs("dev1", "-t", "devices/DSN000001/temp", "-m", "23")...); code != 0 {
		t.Errorf("re-enabled client: %s", out)
	}
}

// TestResearchConfigRuns starts the broker with the configuration a real
// Mosquitto 2.0.11 ran with (conf/testdata/research.conf), changed only in
// its two port numbers, and its dynsec file made by mosquitto_ctrl.
func TestResearchConfigRuns(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub")
	dir := t.TempDir()
	raw, err := os.ReadFile("../conf/testdata/research.conf")
	if err != nil {
		t.Fatal(err)
	}
	plain, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := strings.NewReplacer("28831", port(plain), "28832", port(tlsPort)).Replace(string(raw))
	if err := os.MkdirAll(filepath.Join(dir, "pki"), 0o700); err != nil {
		t.Fatal(err)
	}
	ca := newTestCA(t, filepath.Join(dir, "pki"), "Research")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	ca.leaf("dev2", leafOpts{cn: "dev2"})
	chain, _ := os.ReadFile(filepath.Join(dir, "pki", "chain.pem"))
	if err := writeFile(filepath.Join(dir, "pki", "ca.crt"), string(chain)); err != nil {
		t.Fatal(err)
	}
	if out, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "admin-pw"); code != 0 {
		t.Fatal(out)
	}
	b := startBroker(t, dir, conf, plain, tlsPort)
	out, code := mosq(t, dir, "mosquitto_ctrl", "-h", "127.0.0.1", "-p", port(plain), "-u", "admin", "-P", "admin-pw", "dynsec", "createClient", "dev2")
	if code != 0 || strings.Contains(out, "Error") {
		t.Fatalf("createClient: exit %d: %s", code, out)
	}
	if out, code := mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(tlsPort), "--cafile", "pki/chain.pem",
		"--cert", "pki/dev2.crt", "--key", "pki/dev2.key", "-t", "x", "-m", "1"); code != 0 {
		t.Fatalf("dev2 over mTLS: exit %d: %s", code, out)
	}
	// log_dest file ./mosquitto.log: the log goes there, not to stderr.
	testutil.WaitFor(t, 10*time.Second, "log file line", func() bool {
		b, _ := os.ReadFile(filepath.Join(dir, "mosquitto.log"))
		return strings.Contains(string(b), "u'dev2'")
	})
	if strings.Contains(b.Stderr(), "u'dev2'") {
		t.Error("log_dest file: the log also went to stderr")
	}
}

// TestStrictDynsecRefusesStart: a dynamic security file that Mosquitto
// would half read (a second client of one name, "disabled": "true") stops
// the broker before it listens, with one line per problem naming the file
// and the field.
func TestStrictDynsecRefusesStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "dynsec.json")
	body := `{"clients": [{"username": "dev1", "roles": [{"rolename": "r"}]}, {"username": "dev1"},
		{"username": "dev2", "disabled": "true"}], "roles": [{"rolename": "r"}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	conf := filepath.Join(dir, "mqtls.conf")
	if err := os.WriteFile(conf, fmt.Appendf(nil, "listener %d 127.0.0.1\nplugin %s\nplugin_opt_config_file %s\n", port, dynsecPlugin, file), 0o600); err != nil {
		t.Fatal(err)
	}
	out, code := testutil.Run(t, dir, 30*time.Second, testutil.Mqtls(t), "broker", "-c", conf)
	if code == 0 {
		t.Fatalf("the broker ran with a half-readable dynsec file:\n%s", out)
	}
	for _, want := range []string{file + `: clients[1].username: "dev1" again (first at clients[0])`, file + ": clients[2].disabled: want true or false"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Opening") {
		t.Errorf("the broker opened a listener first:\n%s", out)
	}
}
