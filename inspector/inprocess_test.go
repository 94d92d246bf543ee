package inspector

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"github.com/chromedp/chromedp"

	"mqtls/internal/testutil"
)

// TestBrowserInProcess runs the page scenario against an in-process mochi
// server with the tap, real mosquitto clients and headless chromium.
func TestBrowserInProcess(t *testing.T) {
	t.Parallel()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.AddHook(new(allowAll), nil)
	insp, err := New(srv, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddHook(insp.Hook(), nil)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddListener(listeners.NewNet("tcp", ln)); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	web := httptest.NewServer(insp.Handler())
	t.Cleanup(web.Close)
	port := ln.Addr().(*net.TCPAddr).Port
	ctx := browserScenario(t, env{
		web:  web.URL,
		port: port,
		pub: func(t *testing.T, topic, payload string, retain bool) {
			args := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "-t", topic, "-m", payload, "-q", "1"}
			if retain {
				args = append(args, "-r")
			}
			if out, err := exec.Command("mosquitto_pub", args...).CombinedOutput(); err != nil {
				t.Fatalf("mosquitto_pub: %v %s", err, out)
			}
		},
		retained: func(topic string) bool {
			_, ok := srv.Topics.Retained.Get(topic)
			return ok
		},
	})

	// A burst of 20,000 messages on 2,000 topics reaches the page as a few
	// batches: every topic and every message is accounted for, and the page
	// still answers.
	do(t, ctx, chromedp.Navigate(web.URL))
	pageText(t, ctx, "#tree-count", "topics shown")
	cl := device(srv, "burst", "")
	for n := range 20000 {
		publish(t, srv, cl, fmt.Sprintf("burst/%d/%d", n%20, n%2000), []byte(strconv.Itoa(n)), 0, false, packets.Properties{})
	}
	// topics show up before their counts are final: wait for both
	testutil.WaitFor(t, 30*time.Second, "the page to hold every burst topic and message", func() bool {
		return eval[string](t, ctx, `(() => { const b = [...state.topics.values()].filter(s => s.n.startsWith('burst/'));
			return b.length + ' ' + b.reduce((a, s) => a + s.c, 0); })()`) == "2000 20000"
	})
}

// TestBrowserLogin: a page that needs a login shows the form, refuses a
// client without the admin role, and lets the dynsec admin in.
func TestBrowserLogin(t *testing.T) {
	t.Parallel()
	p := newPage(t, dynsecStore(t), Options{RequireLogin: true})
	p.srv.Publish("lab/visible", []byte("42"), true, 0)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(p.web.URL))
	do(t, ctx,
		chromedp.WaitVisible(chromedp.CSS("#login-form")),
		chromedp.SendKeys(chromedp.CSS("#login-user"), "dev"),
		chromedp.SendKeys(chromedp.CSS("#login-pass"), "devpw"),
		chromedp.Click(chromedp.CSS(`#login-form button`)),
	)
	pageText(t, ctx, "#login-error", "holds no role that grants $CONTROL/dynamic-security/v1")
	do(t, ctx,
		chromedp.SetValue(chromedp.CSS("#login-user"), "admin"),
		chromedp.SetValue(chromedp.CSS("#login-pass"), "s3cret"),
		chromedp.Click(chromedp.CSS(`#login-form button`)),
	)
	pageText(t, ctx, "#who", "admin")
	pageText(t, ctx, `[data-topic="lab/visible"]`, "42")
}
