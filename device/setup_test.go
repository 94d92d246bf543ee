package device_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/dynsec"
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

// brokerOpts choose what ourBroker's config holds beyond the mTLS listener.
type brokerOpts struct {
	// dsFile is the dynamic security file the broker serves (the fleet's
	// when empty). The broker holds its lock while it runs.
	dsFile string
	// noCRL leaves crlfile out, so only dynamic security can cut a device off.
	noCRL bool
	// inspector serves the broker's inspector on a free port.
	inspector bool
}

// brokerProc is `mqtls broker -c` running as a process for a test.
type brokerProc struct {
	*testutil.Proc
	// port is the mTLS listener (CN as user name); adminPort a plain
	// listener where the admin logs in with its dynamic security password.
	port, adminPort int
	// inspector is the inspector's base URL, "" when it is off.
	inspector string
}

// ourBroker runs mqtls's broker as a process (mqtls broker -c) with an mTLS
// listener (CN as user name, the CA's chain and CRL), a plain listener for
// the admin, and the fleet's dynamic security file as access control,
// loaded the way a user's config loads it: through the plugin lines.
func (f *fleet) ourBroker(t *testing.T, o brokerOpts) *brokerProc {
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
	if o.dsFile == "" {
		o.dsFile = f.dsFile
	}
	b := &brokerProc{port: testutil.FreePort(t), adminPort: testutil.FreePort(t)}
	var sb strings.Builder
	fmt.Fprintf(&sb, "plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file %s\nlog_type all\n", o.dsFile)
	if o.inspector {
		ip := testutil.FreePort(t)
		fmt.Fprintf(&sb, "inspector 127.0.0.1:%d\n", ip)
		b.inspector = "http://" + testutil.Addr(ip)
	}
	fmt.Fprintf(&sb, "listener %d 127.0.0.1\n", b.adminPort)
	fmt.Fprintf(&sb, "listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
		b.port, a.ChainPath(), f.issued("server.crt"), f.issued("server.key"))
	if !o.noCRL {
		fmt.Fprintf(&sb, "crlfile %s\n", a.CRLPath())
	}
	conf := filepath.Join(t.TempDir(), "mqtls.conf")
	if err := os.WriteFile(conf, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	b.Proc = testutil.Start(t, f.dir, testutil.Mqtls(t), "broker", "-c", conf)
	testutil.WaitPort(t, b.Proc, testutil.Addr(b.port))
	testutil.WaitPort(t, b.Proc, testutil.Addr(b.adminPort))
	if b.inspector != "" {
		testutil.WaitPort(t, b.Proc, strings.TrimPrefix(b.inspector, "http://"))
	}
	return b
}

// live are the connection flags of the admin on the broker's plain
// listener: the live mode of the device commands.
func (b *brokerProc) live() []string {
	return []string{"-h", "127.0.0.1", "-p", strconv.Itoa(b.adminPort), "-u", "admin", "--password-file", "admin.pw"}
}

// waitLog waits until the broker's log holds want.
func (b *brokerProc) waitLog(t *testing.T, want string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "broker log "+want, func() bool { return strings.Contains(b.Stderr(), want) })
}

// waitLogAfter waits until the broker's log, from byte offset from on, holds want.
func (b *brokerProc) waitLogAfter(t *testing.T, from int, want string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, "broker log "+want, func() bool { return strings.Contains(b.Stderr()[from:], want) })
}

// deviceArgs are mosquitto client flags for an issued device over mTLS.
func (f *fleet) deviceArgs(id string, port int, more ...string) []string {
	a := []string{"-h", "127.0.0.1", "-p", strconv.Itoa(port), "--cafile", filepath.Join(f.pki, ca.ChainFile),
		"--cert", f.issued(id + ".crt"), "--key", f.issued(id + ".key"), "-i", id}
	return append(a, more...)
}
