package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestDynsecAgainstOurBroker: mqtls dynsec changes a running mqtls broker
// over MQTT and real mosquitto_pub/mosquitto_sub see the change at once;
// -f refuses the file the broker holds.
func TestDynsecAgainstOurBroker(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	for name, pw := range map[string]string{"admin.pw": "adminpw\n", "dev.pw": "devpw\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(pw), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	mqOK(t, dir, nil, "dynsec", "init", "dynsec.json", "admin", "--password-file", "admin.pw")
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file dynsec.json\n", port)
	if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	b := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", "mqtls.conf")
	testutil.WaitPort(t, b, testutil.Addr(port))
	p := strconv.Itoa(port)
	conn := []string{"dynsec", "-h", "127.0.0.1", "-p", p, "-u", "admin", "--password-file", "admin.pw"}
	dev := []string{"-h", "127.0.0.1", "-p", p, "-u", "dev1", "-P", "devpw", "-V", "5"}

	// Before: dev1 does not exist.
	if out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(dev, "-t", "sensors/dev1/t", "-m", "0")...); code == 0 {
		t.Fatalf("unknown client connected: %s", out)
	}
	for _, args := range [][]string{
		{"createRole", "sensors"},
		{"addRoleACL", "sensors", "subscribePattern", "sensors/#", "allow"},
		{"createClient", "dev1", "--new-password-file", "dev.pw"},
		{"addClientRole", "dev1", "sensors"},
	} {
		if _, errOut, code := mq(t, dir, nil, append(conn, args...)...); code != 0 {
			t.Fatalf("mqtls %q: exit %d\n%s", args, code, errOut)
		}
	}
	sub := testutil.Start(t, dir, "mosquitto_sub", append(dev, "-i", "dev1-sub", "-t", "sensors/#", "-v")...)
	// Publishing is not granted yet: a v5 PUBACK 135 makes mosquitto_pub warn.
	testutil.WaitFor(t, 10*time.Second, "a refused publish", func() bool {
		out, _ := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(dev, "-q", "1", "-t", "sensors/dev1/t", "-m", "early")...)
		return strings.Contains(out, "Not authorized")
	})
	if _, errOut, code := mq(t, dir, nil, append(conn, "addRoleACL", "sensors", "publishClientSend", "sensors/%u/#", "allow")...); code != 0 {
		t.Fatalf("addRoleACL: %s", errOut)
	}
	// addRoleACL kicked dev1's subscriber (as Mosquitto does); once it is back,
	// the publish now allowed by %u reaches it.
	testutil.WaitFor(t, 15*time.Second, "the message under the new ACL", func() bool {
		if strings.Contains(sub.Stdout(), "sensors/dev1/t late") {
			return true
		}
		select {
		case <-sub.Done():
			sub = testutil.Start(t, dir, "mosquitto_sub", append(dev, "-i", "dev1-sub2", "-t", "sensors/#", "-v")...)
		default:
		}
		testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(dev, "-q", "1", "-t", "sensors/dev1/t", "-m", "late")...)
		return false
	})
	if out, _ := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(dev, "-q", "1", "-t", "sensors/dev2/t", "-m", "x")...); !strings.Contains(out, "Not authorized") {
		t.Errorf("publish to another device's subtree: %s", out)
	}
	// The broker holds the file: -f refuses.
	if _, errOut, code := mq(t, dir, nil, "dynsec", "-f", "dynsec.json", "listClients"); code != 1 || !strings.Contains(errOut, "in use by a running broker") {
		t.Errorf("-f on the broker's file: exit %d\n%s", code, errOut)
	}
	// A client without the $CONTROL ACLs cannot use the API.
	if out, _ := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", append(dev, "-q", "1", "-t", "$CONTROL/dynamic-security/v1",
		"-m", `{"commands":[{"command":"deleteClient","username":"admin"}]}`)...); !strings.Contains(out, "Not authorized") {
		t.Errorf("$CONTROL request from a device: %s", out)
	}
	out, _, _ := mq(t, dir, nil, append(conn, "listClients")...)
	if out != "admin\ndev1\n" {
		t.Errorf("listClients: %q", out)
	}
}
