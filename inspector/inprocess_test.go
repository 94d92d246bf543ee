package inspector

import (
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
)

// TestBrowserInProcess runs the page scenario against an in-process mochi
// server with the tap, real mosquitto clients and headless chromium.
func TestBrowserInProcess(t *testing.T) {
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
	browserScenario(t, env{
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
	_ = time.Second
}
