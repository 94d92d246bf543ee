package broker_test

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"mqtls/internal/testutil"
)

// dynsecPlugin is the plugin line of Debian's Mosquitto (our broker accepts
// the same line).
const dynsecPlugin = "/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so"

// unsubBroker is one broker of the unsubscribe comparison: the real
// Mosquitto or ours, with the same dynsec setup made by mosquitto_ctrl.
type unsubBroker struct {
	name string
	port int
}

// setupUnsubACLs gives user dev1 (password pw) a role that may subscribe and
// publish anything but not unsubscribe from keep/# (keep/free excepted).
func setupUnsubACLs(t *testing.T, dir string, p int) {
	t.Helper()
	ctrl(t, dir, p,
		[]string{"createRole", "dev"},
		[]string{"addRoleACL", "dev", "subscribePattern", "#", "allow"},
		[]string{"addRoleACL", "dev", "publishClientSend", "#", "allow"},
		[]string{"addRoleACL", "dev", "unsubscribePattern", "keep/#", "deny"},
		[]string{"addRoleACL", "dev", "unsubscribeLiteral", "keep/free", "allow"},
		[]string{"createClient", "dev1", "-p", "pw"},
		[]string{"addClientRole", "dev1", "dev"})
}

// ctrl runs mosquitto_ctrl dynsec commands as admin (password adminpw).
func ctrl(t *testing.T, dir string, p int, cmds ...[]string) {
	t.Helper()
	for _, args := range cmds {
		all := append([]string{"-h", "127.0.0.1", "-p", port(p), "-u", "admin", "-P", "adminpw", "dynsec"}, args...)
		if out, code := mosq(t, dir, "mosquitto_ctrl", all...); code != 0 || strings.Contains(out, "Error") {
			t.Fatalf("mosquitto_ctrl %v: exit %d: %s", args, code, out)
		}
	}
}

// startUnsubBrokers starts the real Mosquitto and our broker, each with its
// own dynsec file made by mosquitto_ctrl dynsec init, set up alike.
func startUnsubBrokers(t *testing.T) []unsubBroker {
	testutil.Need(t, "mosquitto", "mosquitto_ctrl", "mosquitto_sub", "mosquitto_pub", "stdbuf")
	var out []unsubBroker
	for _, name := range []string{"mosquitto", "mqtls"} {
		dir := t.TempDir()
		if o, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
			t.Fatalf("mosquitto_ctrl dynsec init: %s", o)
		}
		p := testutil.FreePort(t)
		conf := fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n",
			p, dynsecPlugin, filepath.Join(dir, "dynsec.json"))
		if name == "mosquitto" {
			testutil.Mosquitto(t, p, conf)
		} else {
			startBroker(t, dir, conf, p)
		}
		setupUnsubACLs(t, dir, p)
		out = append(out, unsubBroker{name, p})
	}
	return out
}

// TestUnsubscribeACL: an UNSUBSCRIBE passes the unsubscribe ACLs, as in
// Mosquitto 2.0: a refused filter keeps its subscription, and a v5 client
// reads 0x87 in the UNSUBACK. The real Mosquitto answers the same questions
// first, with the same dynsec setup.
func TestUnsubscribeACL(t *testing.T) {
	brokers := startUnsubBrokers(t)
	var codes [][]byte
	for _, b := range brokers {
		codes = append(codes, unsubCodes(t, b.port, []string{"keep/x", "keep/free", "other/y", "never/subscribed"}))
	}
	want := []byte{0x87, 0x00, 0x00, 0x11}
	if !slices.Equal(codes[0], want) {
		t.Errorf("Mosquitto's UNSUBACK reasons %x, want %x (the test's premise)", codes[0], want)
	}
	if !slices.Equal(codes[1], codes[0]) {
		t.Errorf("UNSUBACK reasons %x, Mosquitto answers %x", codes[1], codes[0])
	}

	// mosquitto_sub -U on a resumed session: the refused unsubscribe keeps
	// keep/x, the allowed one drops other/y (v3.1.1 and v5).
	for _, b := range brokers {
		for _, v := range []string{"311", "5"} {
			t.Run(b.name+"/v"+v, func(t *testing.T) {
				dir := t.TempDir()
				id := "resume-" + v
				args := func(more ...string) []string {
					return append([]string{"-h", "127.0.0.1", "-p", port(b.port), "-u", "dev1", "-P", "pw", "-V", v, "-q", "1"}, more...)
				}
				sessArgs := []string{"-c", "-i", id}
				if v == "5" {
					sessArgs = append(sessArgs, "-x", "300")
				}
				if out, code := mosq(t, dir, "mosquitto_sub", args(append(sessArgs, "-t", "keep/x", "-t", "other/y", "-E")...)...); code != 0 {
					t.Fatalf("mosquitto_sub -E: exit %d: %s", code, out)
				}
				// stdbuf: the -d lines must reach the pipe as they happen
				sub := testutil.Start(t, dir, "stdbuf", append([]string{"-oL", "mosquitto_sub"},
					args(append(sessArgs, "-d", "-U", "keep/x", "-U", "other/y", "-t", "end", "-v", "-C", "2")...)...)...)
				testutil.WaitFor(t, 10*time.Second, "two UNSUBACKs", func() bool {
					return strings.Count(sub.Stdout(), "received UNSUBACK") == 2
				})
				for _, m := range [][2]string{{"other/y", "dropped"}, {"keep/x", "kept"}, {"end", "end"}} {
					if out, code := mosq(t, dir, "mosquitto_pub", args("-t", m[0], "-m", m[1])...); code != 0 {
						t.Fatalf("mosquitto_pub %s: exit %d: %s", m[0], code, out)
					}
				}
				if code := sub.Wait(t, 10*time.Second); code != 0 {
					t.Fatalf("mosquitto_sub: exit %d: %s %s", code, sub.Stdout(), sub.Stderr())
				}
				out := sub.Stdout()
				if !strings.Contains(out, "keep/x kept") || strings.Contains(out, "dropped") {
					t.Errorf("after -U keep/x -U other/y, want keep/x only:\n%s", out)
				}
			})
		}
	}
}

// unsubCodes subscribes a v5 client to every filter but the last, then
// unsubscribes from all of them in one packet and returns the reasons.
func unsubCodes(t *testing.T, p int, filters []string) []byte {
	t.Helper()
	nc, err := net.Dial("tcp", testutil.Addr(p))
	if err != nil {
		t.Fatal(err)
	}
	c := paho.NewClient(paho.ClientConfig{Conn: nc})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cp := &paho.Connect{ClientID: "unsub-codes", CleanStart: true, KeepAlive: 30,
		Username: "dev1", UsernameFlag: true, Password: []byte("pw"), PasswordFlag: true}
	if ca, err := c.Connect(ctx, cp); err != nil {
		t.Fatalf("connect: %v %+v", err, ca)
	}
	defer c.Disconnect(&paho.Disconnect{})
	var subs []paho.SubscribeOptions
	for _, f := range filters[:len(filters)-1] {
		subs = append(subs, paho.SubscribeOptions{Topic: f, QoS: 1})
	}
	if sa, err := c.Subscribe(ctx, &paho.Subscribe{Subscriptions: subs}); err != nil {
		t.Fatalf("subscribe: %v %+v", err, sa)
	}
	ua, _ := c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: filters})
	if ua == nil {
		t.Fatal("no UNSUBACK")
	}
	return ua.Reasons
}
