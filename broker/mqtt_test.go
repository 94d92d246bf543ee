package broker_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestMQTTBehaviour checks, for MQTT 3.1.1 and 5 with Mosquitto's clients,
// what the seed relies on: delivery QoS, retained messages, wills only on
// abnormal disconnects, persistent sessions, max_keepalive and shared
// subscriptions.
func TestMQTTBehaviour(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_keepalive 100\nlog_type all\n", p), p)
	cli := func(v string, more ...string) []string {
		return append([]string{"-h", "127.0.0.1", "-p", port(p), "-V", v}, more...)
	}
	run := func(name string, args ...string) string {
		t.Helper()
		out, code := mosq(t, dir, name, args...)
		if code != 0 {
			t.Fatalf("%s %v: exit %d\n%s", name, args, code, out)
		}
		return out
	}
	// waitSub starts a subscriber and waits until the broker has its subscription.
	waitSub := func(id, filter string, args ...string) *testutil.Proc {
		t.Helper()
		pr := testutil.Start(t, dir, "mosquitto_sub", args...)
		b.waitLog(t, id+" ")
		b.waitLog(t, " "+filter)
		return pr
	}
	done := func(pr *testutil.Proc) string {
		t.Helper()
		select {
		case <-pr.Done():
		case <-time.After(15 * time.Second):
			t.Fatalf("subscriber did not finish:\n%s", pr.Stdout())
		}
		return pr.Stdout()
	}

	for _, v := range []string{"311", "5"} {
		t.Run("v"+v, func(t *testing.T) {
			base := "t" + v + "/"
			// Delivery QoS is the lower of subscription and publish QoS.
			id := "qos" + v
			sub := waitSub(id, base+"qos/#", cli(v, "-i", id, "-q", "1", "-t", base+"qos/#", "-F", "%t %q", "-C", "3")...)
			for _, q := range []string{"0", "1", "2"} {
				run("mosquitto_pub", cli(v, "-q", q, "-t", base+"qos/"+q, "-m", "x")...)
			}
			if got := done(sub); got != base+"qos/0 0\n"+base+"qos/1 1\n"+base+"qos/2 1\n" {
				t.Errorf("delivery QoS:\n%s", got)
			}

			// Retained message delivered on subscribe, with the retain flag.
			run("mosquitto_pub", cli(v, "-r", "-q", "1", "-t", base+"ret", "-m", "kept")...)
			if got := run("mosquitto_sub", cli(v, "-t", base+"ret", "-F", "%t %p %r", "-C", "1", "-W", "10")...); got != base+"ret kept 1\n" {
				t.Errorf("retained: %q", got)
			}

			// A will is not sent on a normal DISCONNECT.
			id = "will" + v
			sub = waitSub(id, base+"status", cli(v, "-i", id, "-t", base+"status", "-C", "1", "-v")...)
			run("mosquitto_pub", cli(v, "-t", base+"data", "-m", "1", "--will-topic", base+"status", "--will-payload", "gone")...)
			run("mosquitto_pub", cli(v, "-t", base+"status", "-m", "marker")...)
			if got := done(sub); got != base+"status marker\n" {
				t.Errorf("will after a clean disconnect: %q", got)
			}

			// A persistent session keeps QoS 1 messages while offline.
			id = "sess" + v
			sargs := []string{"-i", id, "-c", "-q", "1", "-t", base + "sess"}
			if v == "5" {
				sargs = append(sargs, "-x", "300")
			}
			run("mosquitto_sub", cli(v, append(sargs, "-E")...)...)
			run("mosquitto_pub", cli(v, "-q", "1", "-t", base+"sess", "-m", "while-away")...)
			if got := run("mosquitto_sub", cli(v, append(sargs, "-C", "1", "-W", "10")...)...); got != "while-away\n" {
				t.Errorf("persistent session: %q", got)
			}

			// Shared subscription: each message goes to one member only.
			var members []*testutil.Proc
			for i := range 2 {
				id := fmt.Sprintf("share%s-%d", v, i)
				members = append(members, waitSub(id, "$share/g/"+base+"sh/#", cli(v, "-i", id, "-t", "$share/g/"+base+"sh/#", "-v", "-W", "3")...))
			}
			for i := range 10 {
				run("mosquitto_pub", cli(v, "-q", "1", "-t", fmt.Sprintf("%ssh/%d", base, i), "-m", "m")...)
			}
			total := 0
			for _, m := range members {
				total += strings.Count(done(m), base+"sh/")
			}
			if total != 10 {
				t.Errorf("shared subscription delivered %d messages in all, want 10", total)
			}
		})
	}

	// max_keepalive 100: a v5 client asking for 200 s is given 100 (Server Keep
	// Alive); a v3 client, which cannot be told, is admitted with its own 200 s,
	// as by Mosquitto 2.0.11 (keepalive 0: internal/mosqdiff).
	run("mosquitto_pub", cli("5", "-i", "ka5", "-k", "200", "-t", "k", "-m", "1")...)
	b.waitLog(t, "as ka5 (p5, c1, k100)")
	run("mosquitto_pub", cli("311", "-i", "ka3", "-k", "200", "-t", "k", "-m", "1")...)
	b.waitLog(t, "as ka3 (p2, c1, k200)")
	run("mosquitto_pub", cli("311", "-i", "ka3ok", "-k", "20", "-t", "k", "-m", "1")...)
	b.waitLog(t, "as ka3ok (p2, c1, k20)")
}
