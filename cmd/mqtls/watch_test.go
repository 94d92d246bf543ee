package main

// mqtls watch against a real Mosquitto: it is a subscriber like any other,
// so it must work against any broker.

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

func TestWatchAgainstMosquitto(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port))
	p := strconv.Itoa(port)
	pub := func(topic, payload string, retain bool) {
		args := []string{"-h", "127.0.0.1", "-p", p, "-t", topic, "-m", payload}
		if retain {
			args = append(args, "-r")
		}
		if out, code := testutil.Run(t, "", 10*time.Second, "mosquitto_pub", args...); code != 0 {
			t.Fatalf("mosquitto_pub: %d %s", code, out)
		}
	}
	pub("plant/line1/DSN000001/state", "online", true)
	pub("plant/line1/DSN000001/telemetry", `{"temp":21.5}`, true)
	pub("other/x", "not watched", true)
	bin := testutil.Mqtls(t)

	t.Run("once", func(t *testing.T) {
		out, code := testutil.Run(t, "", 20*time.Second, bin, "watch", "--once", "--wait", "500ms", "-h", "127.0.0.1", "-p", p, "-t", "plant/#")
		if code != 0 {
			t.Fatalf("watch --once: exit %d\n%s", code, out)
		}
		want := "2 topics, 2 messages\n" +
			"plant\n" +
			"  line1\n" +
			"    DSN000001\n" +
			"      state                           1         R q0  online\n" +
			"      telemetry                       1         R q0  {\"temp\":21.5}\n"
		if out != want {
			t.Errorf("snapshot:\n%s\nwant:\n%s", out, want)
		}
	})

	t.Run("live", func(t *testing.T) {
		w := testutil.Start(t, "", bin, "watch", "--interval", "50ms", "-h", "127.0.0.1", "-p", p, "-t", "live/#", "-V", "311")
		testutil.WaitFor(t, 10*time.Second, "the first frame", func() bool { return strings.Contains(w.Stdout(), "(no messages yet)") })
		pub("live/a", "first", false)
		testutil.WaitFor(t, 10*time.Second, "live/a in a frame", func() bool { return strings.Contains(w.Stdout(), "  a ") && strings.Contains(w.Stdout(), "first") })
		pub("live/a", "second", false)
		testutil.WaitFor(t, 10*time.Second, "the second payload", func() bool { return strings.Contains(w.Stdout(), "second") })
		if !strings.Contains(w.Stdout(), "mqtls watch  127.0.0.1:"+p+"  live/#") {
			t.Errorf("frames lack the header:\n%s", w.Stdout())
		}
	})

	t.Run("bad filter", func(t *testing.T) {
		out, code := testutil.Run(t, "", 10*time.Second, bin, "watch", "--once", "-h", "127.0.0.1", "-p", p, "-t", "a/#/b")
		if code != 1 || !strings.Contains(out, `invalid filter "a/#/b"`) {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
}
