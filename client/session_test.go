package client_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// sandbox is an `mqtls broker` dev sandbox process on free ports: a plain
// listener with dynsec passwords and a mutual TLS one.
type sandbox struct {
	dir             string
	plain, tlsPort  int
	admin, mqtlsBin string
}

func startSandbox(t *testing.T) *sandbox {
	t.Helper()
	s := &sandbox{dir: t.TempDir(), plain: testutil.FreePort(t), tlsPort: testutil.FreePort(t), mqtlsBin: testutil.Mqtls(t)}
	p := testutil.Start(t, s.dir, s.mqtlsBin, "broker", "--dev-dir", "dev", "--dev-port", fmt.Sprint(s.plain),
		"--dev-tls-port", fmt.Sprint(s.tlsPort), "--dev-inspector", "")
	testutil.WaitPort(t, p, testutil.Addr(s.plain))
	testutil.WaitPort(t, p, testutil.Addr(s.tlsPort))
	s.admin = filepath.Join("dev", "admin.pass")
	return s
}

// mqtls runs the mqtls binary in the sandbox's folder.
func (s *sandbox) mqtls(t *testing.T, args ...string) string {
	t.Helper()
	out, code := testutil.Run(t, s.dir, time.Minute, s.mqtlsBin, args...)
	if code != 0 {
		t.Fatalf("mqtls %q: exit %d\n%s", args, code, out)
	}
	return out
}

// dynsec runs a dynsec command against the running sandbox as its admin.
func (s *sandbox) dynsec(t *testing.T, args ...string) {
	t.Helper()
	s.mqtls(t, append([]string{"dynsec", "-h", "127.0.0.1", "-p", fmt.Sprint(s.plain), "-u", "admin", "--password-file", s.admin}, args...)...)
}

// device is a device's mutual TLS connection options.
func (s *sandbox) device(name string, v byte) client.Options {
	issued := filepath.Join(s.dir, "dev", "pki", "issued", name)
	return client.Options{Host: "127.0.0.1", Port: s.tlsPort, Version: v, TLS: &client.TLSOptions{
		CAFile: filepath.Join(s.dir, "dev", "pki", "chain.pem"), CertFile: issued + ".crt", KeyFile: issued + ".key"}}
}

// runSub runs a Subscriber in the background: subscribed closes at its
// SUBACK, result receives what Run returned, warnings what it warned.
type runSub struct {
	subscribed chan struct{}
	result     chan error
	mu         sync.Mutex
	warnings   []string
}

func (r *runSub) warned() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.warnings, "\n")
}

func subscribe(t *testing.T, o client.Options, filter string) *runSub {
	t.Helper()
	r := &runSub{subscribed: make(chan struct{}), result: make(chan error, 1)}
	var once sync.Once
	o.Debug = func(l string) {
		if strings.HasSuffix(l, "received SUBACK") {
			once.Do(func() { close(r.subscribed) })
		}
	}
	s := &client.Subscriber{Subs: []client.Subscription{{Filter: filter}}, Print: func(client.Message) {},
		Warn: func(w string) { r.mu.Lock(); r.warnings = append(r.warnings, w); r.mu.Unlock() }}
	go func() { r.result <- s.Run(context.Background(), o) }()
	select {
	case <-r.subscribed:
	case err := <-r.result:
		t.Fatalf("the subscriber ended before its SUBACK: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("no SUBACK within 20s")
	}
	return r
}

func (r *runSub) end(t *testing.T) error {
	t.Helper()
	select {
	case err := <-r.result:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("the subscriber did not end; it warned:\n%s", r.warned())
		return nil
	}
}

// TestSessionEnd: a client says why the broker ended its session (the
// DISCONNECT reason in MQTT 5, the closed connection in 3.1.1), connects
// again when that can help, and stops with the refusal's exit code when it
// cannot (a disabled client's CONNACK, a revoked certificate).
func TestSessionEnd(t *testing.T) {
	s := startSandbox(t)
	const dev = "demo-device"
	filter := "devices/" + dev + "/#"

	t.Run("disabled v5", func(t *testing.T) {
		r := subscribe(t, s.device(dev, client.V5), filter)
		s.dynsec(t, "disableClient", dev)
		defer s.dynsec(t, "enableClient", dev)
		err := r.end(t)
		var ce *client.ConnackError
		if !errors.As(err, &ce) || client.ExitCode(err) != 135 {
			t.Errorf("Run = %v (exit %d), want CONNACK 135 on the new connection", err, client.ExitCode(err))
		}
		if w := r.warned(); !strings.Contains(w, "the broker ended the session: administrative action (DISCONNECT 152); connecting again in a second") {
			t.Errorf("warnings:\n%s", w)
		}
	})

	t.Run("disabled v3", func(t *testing.T) {
		r := subscribe(t, s.device(dev, client.V311), filter)
		s.dynsec(t, "disableClient", dev)
		defer s.dynsec(t, "enableClient", dev)
		err := r.end(t)
		if client.ExitCode(err) != 5 {
			t.Errorf("Run = %v (exit %d), want CONNACK 5", err, client.ExitCode(err))
		}
		if w := r.warned(); !strings.Contains(w, "the broker closed the connection (MQTT 3.1.1 carries no reason: the broker's log says why); connecting again") {
			t.Errorf("warnings:\n%s", w)
		}
	})

	t.Run("publisher", func(t *testing.T) {
		pr, pw := io.Pipe()
		o := s.device(dev, client.V5)
		connected := make(chan struct{})
		var once sync.Once
		o.Debug = func(l string) {
			if strings.Contains(l, "received PUBACK") {
				once.Do(func() { close(connected) })
			}
		}
		p := &client.Publisher{Topic: "devices/" + dev + "/x", QoS: 1, Lines: pr}
		res := make(chan error, 1)
		go func() { res <- p.Run(context.Background(), o) }()
		fmt.Fprintln(pw, "one")
		select {
		case <-connected:
		case err := <-res:
			t.Fatalf("the publisher ended: %v", err)
		case <-time.After(20 * time.Second):
			t.Fatal("no PUBACK")
		}
		s.dynsec(t, "disableClient", dev)
		defer s.dynsec(t, "enableClient", dev)
		var err error
		// A line on a connection the broker ended: the error says why it ended.
		for done := false; !done; {
			fmt.Fprintln(pw, "two")
			select {
			case err = <-res:
				done = true
			case <-time.After(100 * time.Millisecond):
			}
		}
		pw.Close()
		if err == nil || err.Error() != "the broker ended the session: administrative action (DISCONNECT 152)" {
			t.Errorf("Run = %v", err)
		}
	})

	// Two more devices, revoked while connected.
	for _, d := range []string{"dev-v3", "dev-v5"} {
		s.mqtls(t, "cert", "client", d, "--pki", "dev/pki")
		s.dynsec(t, "createClient", d, "--no-password")
		s.dynsec(t, "addClientRole", d, "device")
	}
	t.Run("revoked v5", func(t *testing.T) {
		r := subscribe(t, s.device("dev-v5", client.V5), "devices/dev-v5/#")
		s.mqtls(t, "cert", "revoke", "dev-v5", "--pki", "dev/pki")
		err := r.end(t)
		var se *client.SessionError
		if !errors.As(err, &se) || !se.Definitive() || client.ExitCode(err) != 135 || err.Error() != "the broker ended the session: not authorized (DISCONNECT 135)" {
			t.Errorf("Run = %v (exit %d), want DISCONNECT 135, definitive", err, client.ExitCode(err))
		}
		if w := r.warned(); strings.Contains(w, "connecting again") {
			t.Errorf("it connected again after a definitive DISCONNECT:\n%s", w)
		}
	})
	t.Run("revoked v3", func(t *testing.T) {
		r := subscribe(t, s.device("dev-v3", client.V311), "devices/dev-v3/#")
		s.mqtls(t, "cert", "revoke", "dev-v3", "--pki", "dev/pki")
		err := r.end(t)
		var te *client.TLSError
		if !errors.As(err, &te) || client.ExitCode(err) != client.ExitTLS || !strings.Contains(err.Error(), "not revoked") {
			t.Errorf("Run = %v (exit %d), want the TLS refusal of the revoked certificate", err, client.ExitCode(err))
		}
		if w := r.warned(); strings.Count(w, "connecting again") != 1 {
			t.Errorf("want one new connection, then the end:\n%s", w)
		}
	})
}

// TestWrongPortKind: TLS to a plain port and plain MQTT to a TLS port say
// which one the port speaks, against mqtls and Mosquitto.
func TestWrongPortKind(t *testing.T) {
	s := startSandbox(t)
	mosqTLS := testutil.FreePort(t)
	pki := filepath.Join(s.dir, "dev", "pki")
	testutil.Mosquitto(t, mosqTLS, fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nallow_anonymous true\n",
		mosqTLS, filepath.Join(pki, "chain.pem"), filepath.Join(pki, "issued", "server.crt"), filepath.Join(pki, "issued", "server.key")))
	mosqPlain := anonBroker(t)
	tlsOpts := &client.TLSOptions{CAFile: filepath.Join(pki, "chain.pem")}
	for _, tc := range []struct {
		name string
		o    client.Options
		want string
		exit int
	}{
		{"tls to mqtls plain", client.Options{Host: "127.0.0.1", Port: s.plain, TLS: tlsOpts}, "this port most likely speaks plain MQTT", client.ExitTLS},
		{"tls to mosquitto plain", client.Options{Host: "127.0.0.1", Port: mosqPlain, TLS: tlsOpts}, "speaks plain MQTT", client.ExitTLS},
		{"plain to mqtls tls", client.Options{Host: "127.0.0.1", Port: s.tlsPort}, "speaks TLS", client.ExitFailure},
		{"plain to mosquitto tls", client.Options{Host: "127.0.0.1", Port: mosqTLS}, "speaks TLS", client.ExitFailure},
		{"plain 3.1.1 to mqtls tls", client.Options{Host: "127.0.0.1", Port: s.tlsPort, Version: client.V311}, "speaks TLS", client.ExitFailure},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := tc.o
			o.Timeout = 10 * time.Second
			_, err := client.Connect(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tc.want) || client.ExitCode(err) != tc.exit {
				t.Errorf("Connect = %v (exit %d), want %q (exit %d)", err, client.ExitCode(err), tc.want, tc.exit)
			}
		})
	}
}
