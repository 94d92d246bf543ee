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

// pwEnv is a broker on plain TCP with a password_file made by Debian's
// mosquitto_passwd and an acl_file.
type pwEnv struct {
	dir    string
	port   int
	broker *brokerProc
}

const pwACL = `user alice
topic readwrite alice/#
topic read public/#
user bob
topic readwrite bob/#
topic read public/#
topic write public/#
pattern read status/%c
`

func startPW(t *testing.T, extra string) *pwEnv {
	testutil.Need(t, "mosquitto_passwd")
	e := &pwEnv{dir: t.TempDir(), port: testutil.FreePort(t)}
	pw := filepath.Join(e.dir, "passwd")
	for i, u := range []string{"alice", "bob"} {
		args := []string{"-b", pw, u, u + "-secret"}
		if i == 0 {
			args = append([]string{"-c"}, args...)
		}
		if out, code := testutil.Run(t, e.dir, 20*time.Second, "mosquitto_passwd", args...); code != 0 {
			t.Fatalf("mosquitto_passwd: %s", out)
		}
	}
	if err := os.WriteFile(filepath.Join(e.dir, "acl"), []byte(pwACL), 0o600); err != nil {
		t.Fatal(err)
	}
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous false\npassword_file passwd\nacl_file acl\nlog_type all\n%s", e.port, extra)
	e.broker = startBroker(t, e.dir, conf, e.port)
	return e
}

func (e *pwEnv) args(user string, more ...string) []string {
	args := []string{"-h", "127.0.0.1", "-p", port(e.port)}
	if user != "" {
		args = append(args, "-u", user, "-P", user+"-secret")
	}
	return append(args, more...)
}

func TestPasswordLogins(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	e := startPW(t, "")
	cases := []struct {
		name string
		args []string
		code int
		log  string
	}{
		{"right password v3", e.args("alice", "-t", "alice/x", "-m", "1"), 0, "u'alice'"},
		{"right password v5", e.args("bob", "-V", "5", "-t", "bob/x", "-m", "1"), 0, "u'bob'"},
		{"wrong password v3", []string{"-h", "127.0.0.1", "-p", port(e.port), "-u", "alice", "-P", "nope", "-t", "a", "-m", "1"}, 5, "wrong password for user \"alice\""},
		{"wrong password v5", []string{"-V", "5", "-h", "127.0.0.1", "-p", port(e.port), "-u", "alice", "-P", "nope", "-t", "a", "-m", "1"}, 135, "wrong password"},
		{"unknown user", []string{"-h", "127.0.0.1", "-p", port(e.port), "-u", "carol", "-P", "x", "-t", "a", "-m", "1"}, 5, "unknown user \"carol\""},
		{"anonymous v3", e.args("", "-t", "a", "-m", "1"), 5, "anonymous clients are not allowed"},
		{"anonymous v5", e.args("", "-V", "5", "-t", "a", "-m", "1"), 135, "anonymous clients are not allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out, code := mosq(t, e.dir, "mosquitto_pub", c.args...)
			if code != c.code {
				t.Fatalf("exit %d, want %d:\n%s", code, c.code, out)
			}
			e.broker.waitLog(t, c.log)
		})
	}
}

// TestACLs: publish, subscribe and delivery go through the acl_file.
func TestACLs(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	e := startPW(t, "")
	// alice may read public/# but bob's publish to alice/ is refused.
	sub := testutil.Start(t, e.dir, "mosquitto_sub", e.args("alice", "-i", "alice-sub", "-t", "public/#", "-t", "alice/#", "-v", "-C", "2")...)
	e.broker.waitLog(t, "alice-sub 0 alice/#")
	// v5 QoS 1 publish to a refused topic: PUBACK 0x87.
	out, _ := mosq(t, e.dir, "mosquitto_pub", e.args("bob", "-V", "5", "-q", "1", "-t", "alice/x", "-m", "from-bob", "-d")...)
	if !strings.Contains(out, "Not authorized") && !strings.Contains(out, "RC:135") {
		t.Errorf("v5 refused publish: want reason 135, got:\n%s", out)
	}
	// v3 QoS 1 publish to a refused topic: acknowledged and dropped, the
	// client stays connected (Mosquitto's behaviour).
	out, code := mosq(t, e.dir, "mosquitto_pub", e.args("bob", "-q", "1", "-t", "alice/y", "-m", "from-bob-v3", "-d")...)
	if code != 0 || !strings.Contains(out, "received PUBACK") {
		t.Errorf("v3 refused publish: exit %d:\n%s", code, out)
	}
	for _, m := range [][]string{{"public/news", "news"}, {"alice/note", "own"}} {
		if out, code := mosq(t, e.dir, "mosquitto_pub", e.args("bob", "-t", m[0], "-m", m[1])...); code != 0 && m[0] == "public/news" {
			t.Fatalf("publish %s: %s", m[0], out)
		}
	}
	// alice/note from bob is refused; alice writes her own.
	if out, code := mosq(t, e.dir, "mosquitto_pub", e.args("alice", "-t", "alice/note", "-m", "own")...); code != 0 {
		t.Fatal(out)
	}
	select {
	case <-sub.Done():
	case <-time.After(15 * time.Second):
		t.Fatal("subscriber did not exit")
	}
	got := sub.Stdout()
	if got != "public/news news\nalice/note own\n" {
		t.Errorf("alice received:\n%s", got)
	}
	// A subscription bob may not read is granted (as Mosquitto's acl_file
	// does) but nothing is delivered on it: checked by the delivery above.
}

// TestSessionHijackRefused: bob cannot take over alice's persistent session
// by reusing her client id (mochi would hand him her queued messages).
func TestSessionHijackRefused(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	e := startPW(t, "")
	// alice makes a persistent session, then goes away.
	if out, code := mosq(t, e.dir, "mosquitto_sub", e.args("alice", "-i", "shared-id", "-c", "-q", "1", "-t", "alice/secret", "-E")...); code != 0 {
		t.Fatal(out)
	}
	if out, code := mosq(t, e.dir, "mosquitto_pub", e.args("alice", "-q", "1", "-t", "alice/secret", "-m", "for-alice-only")...); code != 0 {
		t.Fatal(out)
	}
	for _, v := range []struct{ ver, code string }{{"311", "5"}, {"5", "135"}} {
		out, code := mosq(t, e.dir, "mosquitto_sub", e.args("bob", "-V", v.ver, "-i", "shared-id", "-c", "-q", "1", "-t", "bob/#", "-W", "3")...)
		if fmt.Sprint(code) != v.code || strings.Contains(out, "for-alice-only") {
			t.Fatalf("bob with alice's client id (v%s): exit %d, want %s:\n%s", v.ver, code, v.code, out)
		}
	}
	e.broker.waitLog(t, "client id \"shared-id\" belongs to a session of another user")
	// alice still gets her queued message.
	out, code := mosq(t, e.dir, "mosquitto_sub", e.args("alice", "-i", "shared-id", "-c", "-q", "1", "-t", "alice/secret", "-C", "1", "-W", "10")...)
	if code != 0 || strings.TrimSpace(out) != "for-alice-only" {
		t.Fatalf("alice's queued message: exit %d: %q", code, out)
	}
}

// TestWillACL: a will on a topic the client may not publish to is refused
// at CONNECT (mochi would publish it unchecked).
func TestWillACL(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	e := startPW(t, "")
	for _, v := range []struct{ ver, code string }{{"311", "5"}, {"5", "135"}} {
		out, code := mosq(t, e.dir, "mosquitto_pub", e.args("bob", "-V", v.ver, "-t", "bob/x", "-m", "1",
			"--will-topic", "alice/cmd", "--will-payload", "evil")...)
		if fmt.Sprint(code) != v.code {
			t.Fatalf("will on alice/cmd (v%s): exit %d, want %s:\n%s", v.ver, code, v.code, out)
		}
	}
	e.broker.waitLog(t, "will topic \"alice/cmd\" is not allowed for user \"bob\"")
	// A will on the client's own topic is fine.
	if out, code := mosq(t, e.dir, "mosquitto_pub", e.args("bob", "-t", "bob/x", "-m", "1", "--will-topic", "bob/status", "--will-payload", "gone")...); code != 0 {
		t.Fatalf("allowed will refused: %s", out)
	}
}
