package broker_test

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestPerListenerDynsec: with per_listener_settings true, dynamic security
// governs the listener whose plugin line it is; the other listeners' clients
// cannot reach its $CONTROL API (here an anonymous listener with no access
// control, which would otherwise allow everything). A plugin line on two
// listeners is refused at load with the file and line (Mosquitto 2.0.11
// starts but uses the last config file for both, issue #2423).
func TestPerListenerDynsec(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl", "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	if o, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %s", o)
	}
	sec, open := testutil.FreePort(t), testutil.FreePort(t)
	file := filepath.Join(dir, "dynsec.json")
	conf := fmt.Sprintf("per_listener_settings true\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n\nlistener %d 127.0.0.1\nallow_anonymous true\n",
		sec, dynsecPlugin, file, open)

	t.Run("two plugin lines", func(t *testing.T) {
		d := t.TempDir()
		twice := conf + fmt.Sprintf("plugin %s\nplugin_opt_config_file %s\n", dynsecPlugin, file)
		if err := writeFile(filepath.Join(d, "mqtls.conf"), twice); err != nil {
			t.Fatal(err)
		}
		p := testutil.Start(t, d, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
		if code := p.Wait(t, 20*time.Second); code == 0 {
			t.Fatal("the broker started")
		}
		if want := "mqtls.conf:9: plugin: the dynamic security plugin is already loaded on line 4"; !strings.Contains(p.Stderr(), want) {
			t.Errorf("stderr lacks %q:\n%s", want, p.Stderr())
		}
	})

	startBroker(t, dir, conf, sec, open)
	ctrl(t, dir, sec, []string{"createClient", "dev1", "-p", "pw"})

	// an anonymous client of the open listener: its request is refused
	// (v5 PUBACK 0x87) and never runs, and it may not read the responses
	req := `{"commands":[{"command":"createClient","username":"evil","password":"x"}]}`
	out, _ := mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(open), "-V", "5", "-q", "1", "-t", "$CONTROL/dynamic-security/v1", "-m", req)
	if !strings.Contains(out, "not authorised") && !strings.Contains(out, "Not authorized") {
		t.Errorf("a $CONTROL request from the open listener: want not authorised, got %q", out)
	}
	mosq(t, dir, "mosquitto_pub", "-h", "127.0.0.1", "-p", port(open), "-V", "311", "-q", "1", "-t", "$CONTROL/dynamic-security/v1", "-m", req)
	if out, _ := mosq(t, dir, "mosquitto_sub", "-h", "127.0.0.1", "-p", port(open), "-V", "5", "-t", "$CONTROL/dynamic-security/v1/response", "-E"); !strings.Contains(out, "All subscription requests were denied") {
		t.Errorf("subscribing to the responses from the open listener: %q", out)
	}
	list, code := mosq(t, dir, "mosquitto_ctrl", "-h", "127.0.0.1", "-p", port(sec), "-u", "admin", "-P", "adminpw", "dynsec", "listClients")
	if code != 0 || !strings.Contains(list, "dev1") || strings.Contains(list, "evil") {
		t.Errorf("listClients (exit %d), want dev1 and no evil:\n%s", code, list)
	}
}
