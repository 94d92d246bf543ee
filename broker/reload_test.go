package broker_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// TestExpiredCRL documents the choice for a CRL past its nextUpdate: it is
// logged as an error and stays in force, so revoked certificates are still
// refused and the others still accepted (Mosquitto refuses every client).
func TestExpiredCRL(t *testing.T) {
	testutil.Need(t, "mosquitto_pub")
	dir := t.TempDir()
	e := &mtlsEnv{dir: dir}
	e.ca = newTestCA(t, dir, "Stale")
	e.ca.leaf("good", leafOpts{cn: "DSN000001"})
	e.ca.revoke(e.ca.leaf("gone", leafOpts{cn: "DSN000002"}))
	e.ca.writeCRL(time.Now().Add(-time.Hour))
	e = startMTLSWith(t, e)
	e.broker.waitLog(t, "EXPIRED at")
	if out, code := mosq(t, dir, "mosquitto_pub", e.tlsArgs("good", "-t", "test/x", "-m", "1")...); code != 0 {
		t.Errorf("good certificate with an expired CRL: exit %d: %s", code, out)
	}
	if out, code := mosq(t, dir, "mosquitto_pub", e.tlsArgs("gone", "-t", "test/x", "-m", "1")...); code == 0 {
		t.Errorf("revoked certificate accepted with an expired CRL: %s", out)
	}
	e.broker.waitLog(t, "is revoked")
}

// TestSIGHUPReload: SIGHUP re-reads the password file (a user added with
// mosquitto_passwd can log in afterwards) and a broken file keeps the old one.
func TestSIGHUPReload(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_passwd")
	e := startPW(t, "")
	carol := []string{"-h", "127.0.0.1", "-p", port(e.port), "-u", "carol", "-P", "carol-secret", "-t", "x", "-m", "1"}
	if _, code := mosq(t, e.dir, "mosquitto_pub", carol...); code != 5 {
		t.Fatalf("carol before she exists: exit %d", code)
	}
	if out, code := testutil.Run(t, e.dir, 20*time.Second, "mosquitto_passwd", "-b", filepath.Join(e.dir, "passwd"), "carol", "carol-secret"); code != 0 {
		t.Fatal(out)
	}
	if err := e.broker.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	e.broker.waitLog(t, "SIGHUP: reloading")
	testutil.WaitFor(t, 10*time.Second, "carol's login", func() bool {
		_, code := mosq(t, e.dir, "mosquitto_pub", carol...)
		return code == 0
	})
	// A broken file is reported and the previous one stays in force.
	if err := writeFile(filepath.Join(e.dir, "passwd"), "carol:plaintext\n"); err != nil {
		t.Fatal(err)
	}
	e.broker.Signal(syscall.SIGHUP)
	e.broker.waitLog(t, "reload: password_file")
	if out, code := mosq(t, e.dir, "mosquitto_pub", carol...); code != 0 {
		t.Errorf("after a failed reload: exit %d: %s", code, out)
	}
}

// TestSIGHUPReloadsServerCert: a renewed certfile/keyfile is served after
// SIGHUP without a restart.
func TestSIGHUPReloadsServerCert(t *testing.T) {
	e := startMTLS(t, t.TempDir())
	e.ca.leaf("DSN000001", leafOpts{cn: "DSN000001"})
	served := func() string {
		kp, err := tls.LoadX509KeyPair(filepath.Join(e.dir, "DSN000001.crt"), filepath.Join(e.dir, "DSN000001.key"))
		if err != nil {
			t.Fatal(err)
		}
		roots := x509.NewCertPool()
		roots.AddCert(e.ca.root)
		c, err := tls.Dial("tcp", testutil.Addr(e.port), &tls.Config{RootCAs: roots, ServerName: "localhost", Certificates: []tls.Certificate{kp}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return c.ConnectionState().PeerCertificates[0].SerialNumber.String()
	}
	before := served()
	renewed := e.ca.leaf("server", leafOpts{cn: "localhost", server: true}).SerialNumber.String()
	if err := e.broker.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	testutil.WaitFor(t, 10*time.Second, "the renewed server certificate", func() bool { return served() == renewed })
	if before == renewed {
		t.Fatal("the test did not renew the certificate")
	}
}

// TestTLSVersions: TLS 1.2 is the floor, and tls_version tlsv1.3 refuses
// TLS 1.2; Debian's openssl s_client is the judge.
func TestTLSVersions(t *testing.T) {
	testutil.Need(t, "openssl")
	dir := t.TempDir()
	ca := newTestCA(t, dir, "Versions")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	p12, p13 := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncertfile server.crt\nkeyfile server.key\nallow_anonymous true\n"+
		"listener %d 127.0.0.1\ncertfile server.crt\nkeyfile server.key\ntls_version tlsv1.3\n", p12, p13)
	startBroker(t, dir, conf, p12, p13)
	handshake := func(port int, version string) bool {
		_, code := testutil.Run(t, dir, 20*time.Second, "sh", "-c",
			fmt.Sprintf("openssl s_client -connect 127.0.0.1:%d %s -CAfile chain.pem -verify_return_error </dev/null", port, version))
		return code == 0
	}
	for _, c := range []struct {
		port    int
		version string
		ok      bool
	}{
		{p12, "-tls1_2", true}, {p12, "-tls1_3", true}, {p12, "-tls1_1", false},
		{p13, "-tls1_3", true}, {p13, "-tls1_2", false},
	} {
		if got := handshake(c.port, c.version); got != c.ok {
			t.Errorf("port %d %s: handshake ok = %v, want %v", c.port, c.version, got, c.ok)
		}
	}
}
