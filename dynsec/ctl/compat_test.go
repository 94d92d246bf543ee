package ctl

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// mosquittoDynsecPlugin is where Debian's mosquitto package puts the plugin.
const mosquittoDynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

// startMosquittoDynsec runs the real Mosquitto with the dynamic security
// plugin on file and returns its port.
func startMosquittoDynsec(t *testing.T, file string) int {
	t.Helper()
	testutil.Need(t, "mosquitto")
	if _, err := os.Stat(mosquittoDynsecPlugin); err != nil {
		t.Fatalf("the Mosquitto dynamic security plugin is missing (Debian package mosquitto): %v", err)
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf(
		"per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n",
		port, mosquittoDynsecPlugin, file))
	return port
}

// ctrlStep is one mosquitto_ctrl dynsec command line; password is given to
// mosquitto_ctrl with -p (createClient) or as its last argument
// (setClientPassword), and to us through Options.
type ctrlStep struct {
	args     []string
	clientID string
	password string
}

var compatSteps = []ctrlStep{
	{args: []string{"createRole", "sensors"}},
	{args: []string{"addRoleACL", "sensors", "publishClientSend", "sensors/#", "allow", "5"}},
	{args: []string{"addRoleACL", "sensors", "subscribePattern", "sensors/+/temp", "allow"}},
	{args: []string{"addRoleACL", "sensors", "publishClientReceive", "secret/#", "deny", "10"}},
	{args: []string{"addRoleACL", "sensors", "subscribeLiteral", "a/b", "deny", "3"}},
	{args: []string{"addRoleACL", "sensors", "publishClientSend", "sensors/x", "deny", "5"}},
	{args: []string{"addRoleACL", "sensors", "publishClientSend", "a/#/b", "allow"}},
	{args: []string{"createRole", "ops"}},
	{args: []string{"addRoleACL", "ops", "unsubscribePattern", "#", "allow"}},
	{args: []string{"addRoleACL", "ops", "unsubscribeLiteral", "x/y", "deny", "-3"}},
	{args: []string{"createGroup", "devices"}},
	{args: []string{"createGroup", "staff"}},
	{args: []string{"createGroup", "staff"}},
	{args: []string{"createClient", "dev1"}, clientID: "dev1-id", password: "pw1"},
	{args: []string{"createClient", "dev2"}, password: "pw2"},
	{args: []string{"createClient", "dev1"}, password: "again"},
	{args: []string{"addClientRole", "dev1", "sensors", "3"}},
	{args: []string{"addClientRole", "dev1", "ops"}},
	{args: []string{"addClientRole", "dev2", "ops"}},
	{args: []string{"addClientRole", "dev2", "nosuchrole"}},
	{args: []string{"addGroupClient", "devices", "dev1", "2"}},
	{args: []string{"addGroupClient", "devices", "dev2"}},
	{args: []string{"addGroupClient", "staff", "dev2", "7"}},
	{args: []string{"addGroupClient", "devices", "dev2"}},
	{args: []string{"addGroupRole", "devices", "sensors", "1"}},
	{args: []string{"addGroupRole", "staff", "ops"}},
	{args: []string{"addGroupRole", "staff", "ops"}},
	{args: []string{"setAnonymousGroup", "staff"}},
	{args: []string{"setClientId", "dev2", "dev2-id"}},
	{args: []string{"setClientId", "dev2"}},
	{args: []string{"disableClient", "dev2"}},
	{args: []string{"createClient", "dev3"}, password: "x"},
	{args: []string{"getClient", "dev3"}},
	{args: []string{"deleteClient", "dev3"}},
	{args: []string{"deleteClient", "dev3"}},
	{args: []string{"removeRoleACL", "sensors", "subscribeLiteral", "a/b"}},
	{args: []string{"removeRoleACL", "sensors", "subscribeLiteral", "a/b"}},
	{args: []string{"removeGroupClient", "devices", "dev2"}},
	{args: []string{"removeClientRole", "dev1", "ops"}},
	{args: []string{"setClientPassword", "dev1"}, password: "newpw"},
	{args: []string{"createRole", "tmp"}},
	{args: []string{"addGroupRole", "devices", "tmp", "9"}},
	{args: []string{"deleteRole", "tmp"}},
	{args: []string{"createGroup", "gone"}},
	{args: []string{"addGroupClient", "gone", "dev1"}},
	{args: []string{"deleteGroup", "gone"}},
	{args: []string{"removeGroupRole", "staff", "ops"}},
	{args: []string{"getClient", "dev1"}},
	{args: []string{"getClient", "dev2"}},
	{args: []string{"getClient", "nobody"}},
	{args: []string{"getGroup", "devices"}},
	{args: []string{"getGroup", "staff"}},
	{args: []string{"getGroup", "nogroup"}},
	{args: []string{"getRole", "sensors"}},
	{args: []string{"getRole", "ops"}},
	{args: []string{"listClients"}},
	{args: []string{"listClients", "1", "1"}},
	{args: []string{"listGroups"}},
	{args: []string{"listRoles", "1"}},
	{args: []string{"getAnonymousGroup"}},
	{args: []string{"getDefaultACLAccess"}},
	{args: []string{"enableClient", "dev2"}},
}

var saltRE = regexp.MustCompile(`"(password|salt)":\t"[^"]*"`)

// startMqtlsDynsec runs our broker with Mosquitto's plugin lines on file
// and returns its port.
func startMqtlsDynsec(t *testing.T, dir, file string) int {
	t.Helper()
	port := testutil.FreePort(t)
	conf := filepath.Join(dir, "mqtls.conf")
	body := fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n",
		port, mosquittoDynsecPlugin, file)
	if err := os.WriteFile(conf, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", conf)
	testutil.WaitPort(t, p, testutil.Addr(port))
	return port
}

func ctrlArgs(port int, st ctrlStep) []string {
	args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-u", "admin", "-P", "adminpw", "dynsec"}
	args = append(args, st.args...)
	switch st.args[0] {
	case "createClient":
		if st.clientID != "" {
			args = append(args, "-c", st.clientID)
		}
		args = append(args, "-p", st.password)
	case "setClientPassword":
		args = append(args, st.password)
	}
	return args
}

// TestSameCommandsSameFile runs one command sequence three ways: the real
// mosquitto_ctrl against the real Mosquitto 2.0, the real mosquitto_ctrl
// against our broker, and the requests our command line builds against our
// store in process. All print the same and leave equal files (modulo
// password hashes and salts).
func TestSameCommandsSameFile(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl")
	dir := t.TempDir()
	theirs := filepath.Join(dir, "theirs.json")
	out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_ctrl", "dynsec", "init", theirs, "admin", "adminpw")
	if code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %d\n%s", code, out)
	}
	port := startMosquittoDynsec(t, theirs)

	brokerFile := filepath.Join(dir, "broker.json")
	if out, code := testutil.Run(t, dir, 10*time.Second, "mosquitto_ctrl", "dynsec", "init", brokerFile, "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %d\n%s", code, out)
	}
	ourPort := startMqtlsDynsec(t, dir, brokerFile)

	ours := filepath.Join(dir, "ours.json")
	if err := dynsec.Init(ours, "admin", []byte("adminpw")); err != nil {
		t.Fatal(err)
	}
	s, err := dynsec.Load(ours)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range compatSteps {
		got, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_ctrl", ctrlArgs(port, st)...)
		if code != 0 {
			t.Fatalf("mosquitto_ctrl %q: exit %d\n%s", st.args, code, got)
		}
		want := stripCtrlWarning(got)
		ours, code := testutil.Run(t, dir, 20*time.Second, "mosquitto_ctrl", ctrlArgs(ourPort, st)...)
		if code != 0 || stripCtrlWarning(ours) != want {
			t.Errorf("mosquitto_ctrl %q against mqtls: exit %d, prints\n%s\nagainst Mosquitto\n%s", st.args, code, stripCtrlWarning(ours), want)
		}
		if os.Getenv("DYNSEC_DEBUG") != "" {
			t.Logf("%q -> %q", st.args, want)
		}

		o := Options{ClientID: st.clientID}
		if st.password != "" {
			o.Password = []byte(st.password)
		}
		req, err := BuildRequest(st.args[0], st.args[1:], o)
		if err != nil {
			t.Fatalf("%q: %v", st.args, err)
		}
		resp, err := s.Exec(req)
		if err != nil {
			t.Fatal(err)
		}
		var b bytes.Buffer
		PrintResponse(&b, &b, resp)
		if b.String() != want {
			t.Errorf("%q prints\n%s\nwant (mosquitto_ctrl)\n%s", st.args, b.String(), want)
		}
	}
	a, err := os.ReadFile(theirs)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(ours)
	if err != nil {
		t.Fatal(err)
	}
	at := saltRE.ReplaceAllString(string(a), `"$1":\t"-"`)
	bt := saltRE.ReplaceAllString(string(b), `"$1":\t"-"`)
	if at != bt {
		t.Errorf("files differ\nours:\n%s\ntheirs:\n%s", bt, at)
	}
	c, err := os.ReadFile(brokerFile)
	if err != nil {
		t.Fatal(err)
	}
	if ct := saltRE.ReplaceAllString(string(c), `"$1":\t"-"`); ct != at {
		t.Errorf("files differ\nour broker's:\n%s\nMosquitto's:\n%s", ct, at)
	}
	// The passwords set on both sides work on ours.
	if err := s.Login("dev1", "newpw", "dev1-id"); err != nil {
		t.Errorf("dev1 login: %v", err)
	}
}

func stripCtrlWarning(s string) string {
	s = strings.Replace(s, "Warning: You are running mosquitto_ctrl without encryption.\nThis means all of the configuration changes you are making are visible on the network, including passwords.\n\n", "", 1)
	return s
}
