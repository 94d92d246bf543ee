package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

func TestDynsecFileCommands(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("adminpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A password on the command line is refused, and nothing is written.
	if _, errOut, code := mq(t, dir, nil, "dynsec", "init", "d.json", "admin", "adminpw"); code != 2 || !strings.Contains(errOut, "--password-file") {
		t.Errorf("init with a positional password: exit %d\n%s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, "d.json")); !os.IsNotExist(err) {
		t.Fatalf("init with a refused password wrote the file: %v", err)
	}
	out := mqOK(t, dir, nil, "dynsec", "init", "d.json", "admin", "--password-file", "admin.pw")
	if !strings.HasPrefix(out, "The client 'admin' has been created in the file 'd.json'.\n") {
		t.Errorf("init prints %q", out)
	}
	if p := perm(t, filepath.Join(dir, "d.json")); p != 0o600 {
		t.Errorf("file mode %v, want 0600", p)
	}
	if _, errOut, code := mq(t, dir, nil, "dynsec", "init", "d.json", "admin", "--password-file", "admin.pw"); code != 1 || !strings.Contains(errOut, "already exists") {
		t.Errorf("second init: exit %d\n%s", code, errOut)
	}
	for _, args := range [][]string{
		{"createRole", "device"},
		{"addRoleACL", "device", "publishClientSend", "devices/%u/#", "allow"},
		{"addRoleACL", "device", "subscribePattern", "devices/%u/cmd/#", "allow", "3"},
		// Flags after arguments, as mosquitto_ctrl takes them.
		{"createClient", "DSN000001", "-c", "DSN000001-id"},
		{"addClientRole", "DSN000001", "device", "2"},
	} {
		mqOK(t, dir, nil, append([]string{"dynsec", "-f", "d.json"}, args...)...)
	}
	out = mqOK(t, dir, nil, "dynsec", "-f", "d.json", "getClient", "DSN000001")
	if want := "Username: DSN000001\nClientid: DSN000001-id\nRoles:    device (priority: 2)\n"; out != want {
		t.Errorf("getClient prints\n%s\nwant\n%s", out, want)
	}
	if _, errOut, code := mq(t, dir, nil, "dynsec", "-f", "d.json", "getClient", "nobody"); code != 1 || errOut != "getClient: Error: Client not found\n" {
		t.Errorf("getClient nobody: exit %d, stderr %q", code, errOut)
	}
	if _, errOut, code := mq(t, dir, nil, "dynsec", "-f", "d.json", "createClient", "x", "-p", "secret"); code != 2 || !strings.Contains(errOut, "command line") {
		t.Errorf("createClient -p: exit %d\n%s", code, errOut)
	}
	out, _, code := mq(t, dir, nil, "dynsec", "-f", "d.json", "check", "DSN000001", "devices/DSN000001/temp", "pub")
	if code != 0 || !strings.HasPrefix(out, `allow: role "device"`) {
		t.Errorf("check allow: exit %d %q", code, out)
	}
	out, _, code = mq(t, dir, nil, "dynsec", "-f", "d.json", "check", "DSN000001", "devices/DSN000002/temp", "pub")
	if code != 1 || !strings.HasPrefix(out, "deny: no ACL matches") {
		t.Errorf("check deny: exit %d %q", code, out)
	}
	// The file is what Mosquitto would read: it loads, and the admin logs in.
	s, err := dynsec.Load(filepath.Join(dir, "d.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Login("admin", "adminpw", "x"); err != nil {
		t.Errorf("admin login: %v", err)
	}
	// While a broker holds the file, -f refuses and changes nothing.
	lock, err := dynsec.Lock(filepath.Join(dir, "d.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Unlock()
	before, _ := os.ReadFile(filepath.Join(dir, "d.json"))
	if _, errOut, code := mq(t, dir, nil, "dynsec", "-f", "d.json", "deleteClient", "DSN000001"); code != 1 || !strings.Contains(errOut, "in use by a running broker") {
		t.Errorf("locked file: exit %d\n%s", code, errOut)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "d.json"))
	if string(before) != string(after) {
		t.Error("a refused edit changed the file")
	}
}

// TestDynsecLiveAgainstMosquitto drives a real Mosquitto 2.0 with the
// dynamic security plugin with mqtls dynsec over MQTT, and reads the
// result back with the real mosquitto_ctrl: both print the same.
func TestDynsecLiveAgainstMosquitto(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto", "mosquitto_ctrl")
	dir := t.TempDir()
	file := filepath.Join(dir, "dynsec.json")
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_ctrl", "dynsec", "init", file, "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl init: %s", out)
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\nplugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so\nplugin_opt_config_file %s\n", port, file))
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("adminpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "dev.pw"), []byte("devpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	conn := []string{"dynsec", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "--password-file", "admin.pw"}
	for _, args := range [][]string{
		{"createRole", "sensors"},
		{"addRoleACL", "sensors", "publishClientSend", "sensors/#", "allow", "4"},
		{"addRoleACL", "sensors", "publishClientReceive", "secret/#", "deny", "9"},
		{"createGroup", "devices"},
		{"createClient", "dev1", "-c", "dev1-id", "--new-password-file", "dev.pw"},
		{"addClientRole", "dev1", "sensors", "3"},
		{"addGroupClient", "devices", "dev1", "2"},
		{"setAnonymousGroup", "devices"},
	} {
		_, errOut, code := mq(t, dir, nil, append(conn, args...)...)
		if code != 0 {
			t.Fatalf("mqtls %q: exit %d\n%s", args, code, errOut)
		}
	}
	for _, args := range [][]string{
		{"getClient", "dev1"},
		{"getRole", "sensors"},
		{"getGroup", "devices"},
		{"listClients"},
		{"listRoles"},
		{"getAnonymousGroup"},
		{"getDefaultACLAccess"},
		{"getClient", "nobody"},
	} {
		want, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_ctrl", append([]string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "-P", "adminpw", "dynsec"}, args...)...)
		if code != 0 {
			t.Fatalf("mosquitto_ctrl %q: %d\n%s", args, code, want)
		}
		want = strings.Replace(want, "Warning: You are running mosquitto_ctrl without encryption.\nThis means all of the configuration changes you are making are visible on the network, including passwords.\n\n", "", 1)
		out, errOut, _ := mq(t, dir, nil, append(conn, args...)...)
		errOut = strings.Replace(errOut, "mqtls: warning: connecting without TLS: the changes you make, passwords included, are visible on the network\n", "", 1)
		if out+errOut != want {
			t.Errorf("%q: mqtls prints\n%s%s\nmosquitto_ctrl prints\n%s", args, out, errOut, want)
		}
	}
	// dev1 logs in with the password set through mqtls, with its pinned id.
	out, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_pub", "-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "dev1", "-P", "devpw", "-i", "dev1-id", "-t", "sensors/a", "-m", "1", "-q", "1")
	if code != 0 {
		t.Errorf("dev1 publish: exit %d\n%s", code, out)
	}
	// check reads the live configuration.
	out2, _, code := mq(t, dir, nil, append(conn, "check", "dev1", "secret/x", "recv")...)
	if code != 1 || !strings.HasPrefix(out2, `deny: role "sensors" (a role of the client), ACL publishClientReceive "secret/#" priority 9`) {
		t.Errorf("live check: exit %d %q", code, out2)
	}
}

func TestDynsecJSON(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte("adminpw\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mqOK(t, dir, nil, "dynsec", "init", "d.json", "admin", "--password-file", "admin.pw")
	out := mqOK(t, dir, nil, "dynsec", "-f", "d.json", "listClients", "--json")
	if want := "{\n\t\"totalCount\":\t1,\n\t\"clients\":\t[\"admin\"]\n}\n"; out != want {
		t.Errorf("listClients --json prints %q, want %q", out, want)
	}
}
