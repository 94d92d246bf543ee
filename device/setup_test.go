package device_test

import (
	"bytes"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/broker"
	"mqtls/ca"
	"mqtls/conf"
	"mqtls/dynsec"
	"mqtls/inspector"
	"mqtls/internal/testutil"
)

// fleet is a PKI folder and a dynamic-security.json with the roles the
// tests use: "device" confines a device to devices/%u/#.
type fleet struct {
	dir    string // working folder of the commands
	pki    string
	dsFile string
}

const adminPassword = "admin-secret"

func newFleet(t testing.TB) *fleet {
	t.Helper()
	dir := t.TempDir()
	f := &fleet{dir: dir, pki: filepath.Join(dir, "pki"), dsFile: filepath.Join(dir, "dynamic-security.json")}
	if err := ca.Init(f.pki, ca.InitOptions{Name: "Fleet Test"}); err != nil {
		t.Fatal(err)
	}
	if err := dynsec.Init(f.dsFile, "admin", []byte(adminPassword)); err != nil {
		t.Fatal(err)
	}
	s, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateRole("device"))
	for _, typ := range []string{dynsec.ACLPublishClientSend, dynsec.ACLPublishClientReceive, dynsec.ACLSubscribePattern} {
		must(s.AddRoleACL("device", typ, "devices/%u/#", true, -1))
	}
	must(s.CreateRole("sensor"))
	must(s.AddRoleACL("sensor", dynsec.ACLPublishClientSend, "sensors/%u/data", true, -1))
	must(s.CreateGroup("plant1"))
	if err := os.WriteFile(filepath.Join(dir, "admin.pw"), []byte(adminPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return f
}

// mqtls runs the binary in the fleet's folder with --pki.
func (f *fleet) mqtls(t *testing.T, args ...string) (string, int) {
	t.Helper()
	return testutil.Run(t, f.dir, 2*time.Minute, testutil.Mqtls(t), append(args, "--pki", f.pki)...)
}

func (f *fleet) issued(name string) string { return filepath.Join(f.pki, ca.IssuedDir, name) }

// syncBuf is a log sink tests can read while the broker writes.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// ourBroker runs mqtls's broker on an mTLS listener (CN as user name, the
// CA's chain and CRL) with the fleet's dynamic security file as its
// access control, and returns its port and log.
//
// It runs in the test process: `mqtls broker -c` cannot load the dynamic
// security plugin from a config file yet, so the store is handed to it
// through broker.Options.Authorizer, the same way the broker will wire it.
func (f *fleet) ourBroker(t *testing.T) (int, *syncBuf) {
	t.Helper()
	port, logs, _ := f.ourBrokerWith(t, false)
	return port, logs
}

// ourBrokerWith also serves the broker's inspector when asked, and returns
// its base URL.
func (f *fleet) ourBrokerWith(t *testing.T, withInspector bool) (int, *syncBuf, string) {
	t.Helper()
	a, err := ca.Open(f.pki, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := a.Lookup("server"); !ok {
		if _, err := a.IssueServer(ca.ServerOptions{Hosts: []string{"localhost"}, IPs: []net.IP{net.ParseIP("127.0.0.1")}}); err != nil {
			t.Fatal(err)
		}
	}
	store, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	text := fmt.Sprintf(`listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
crlfile %s
require_certificate true
use_identity_as_username true
log_type all
`, port, a.ChainPath(), f.issued("server.crt"), f.issued("server.key"), a.CRLPath())
	cfg, err := conf.Parse("test.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuf{}
	b, err := broker.New(cfg, slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), broker.Options{Authorizer: store})
	if err != nil {
		t.Fatal(err)
	}
	url := ""
	if withInspector {
		in, err := inspector.New(b.Server(), store, inspector.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Server().AddHook(in.Hook(), nil); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(in.Handler())
		t.Cleanup(srv.Close)
		url = srv.URL
	}
	if err := b.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return port, logs, url
}

// deviceArgs are mosquitto client flags for an issued device over mTLS.
func (f *fleet) deviceArgs(id string, port int, more ...string) []string {
	a := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "--cafile", filepath.Join(f.pki, ca.ChainFile),
		"--cert", f.issued(id + ".crt"), "--key", f.issued(id + ".key"), "-i", id}
	return append(a, more...)
}

func waitLog(t *testing.T, logs *syncBuf, want string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "broker log "+want, func() bool { return strings.Contains(logs.String(), want) })
}
