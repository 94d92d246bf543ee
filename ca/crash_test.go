package ca_test

// Crash tests of the commands that change the PKI folder: each command is
// run once under strace to list its fsync/rename/unlink calls, then run
// again from the same starting folder and killed (SIGKILL) on entry to each
// of them in turn. After each cut the folder must be safe as it stands (a
// certificate the index calls revoked is listed in crl.pem), and a re-run
// of the same command must complete the work, leave no temporary file and
// satisfy the real programs: openssl crl and openssl verify -crl_check, and
// for one representative cut a real Mosquitto serving that crl.pem.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/internal/testutil"
)

// cutFixture is a starting folder (tmpl) and the folder the cut commands
// run in (work), both holding pki/.
type cutFixture struct {
	tmpl, work string
}

// newCutFixture makes a dev CA (no password, so that each run is quick)
// with a server certificate and two devices, by the real commands.
func newCutFixture(t *testing.T) *cutFixture {
	t.Helper()
	testutil.Need(t, "strace", "openssl")
	f := &cutFixture{tmpl: t.TempDir(), work: filepath.Join(t.TempDir(), "work")}
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure", "--pki", "pki"},
		{"cert", "server", "--host", "localhost", "--ip", "127.0.0.1", "--pki", "pki"},
		{"cert", "client", "DSN000001", "--pki", "pki"},
		{"cert", "client", "DSN000002", "--pki", "pki"},
	} {
		if out, code := f.mqtls(t, f.tmpl, args...); code != 0 {
			t.Fatalf("mqtls %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	return f
}

func (f *cutFixture) mqtls(t *testing.T, dir string, args ...string) (string, int) {
	t.Helper()
	return testutil.Run(t, dir, time.Minute, testutil.Mqtls(t), args...)
}

func (f *cutFixture) reset(t *testing.T) func() {
	return func() { testutil.ResetDir(t, f.tmpl, f.work) }
}

func (f *cutFixture) pki() string { return filepath.Join(f.work, "pki") }

// steps lists the cut points of a command, run on a fresh copy.
func (f *cutFixture) steps(t *testing.T, args ...string) []testutil.Step {
	t.Helper()
	f.reset(t)()
	steps := testutil.Steps(t, f.work, nil, testutil.Mqtls(t), args...)
	for _, s := range steps {
		t.Logf("step %s", s)
	}
	return steps
}

// cut runs the command from the starting folder and kills it at s.
func (f *cutFixture) cut(t *testing.T, s testutil.Step, args ...string) {
	t.Helper()
	testutil.Cut(t, f.work, nil, s, f.reset(t), testutil.Mqtls(t), args...)
}

func stepName(s testutil.Step) string { return fmt.Sprintf("%s#%d", s.Syscall, s.N) }

var serialLine = regexp.MustCompile(`Serial Number: ([0-9A-Fa-f]+)`)

// crlSerials are the serials openssl reads in crl.pem's first CRL (the
// issuing CA's, the one a broker checks a device against).
func crlSerials(t *testing.T, pki string) map[string]bool {
	t.Helper()
	out, code := openssl(t, pki, "crl", "-in", ca.CRLFile, "-noout", "-text")
	if code != 0 {
		t.Fatalf("openssl crl cannot read crl.pem: %s", out)
	}
	got := map[string]bool{}
	for _, m := range serialLine.FindAllStringSubmatch(out, -1) {
		got[normHex(m[1])] = true
	}
	return got
}

func normHex(s string) string { return strings.TrimLeft(strings.ToUpper(s), "0") }

// verifyCRL runs openssl verify -crl_check on an issued certificate and
// reports whether the CRL refuses it as revoked (any other failure fails
// the test).
func verifyRevoked(t *testing.T, pki, name string) bool {
	t.Helper()
	out, code := openssl(t, pki, "verify", "-crl_check", "-CAfile", ca.RootCertFile, "-untrusted", ca.CACertFile,
		"-CRLfile", ca.CRLFile, filepath.Join(ca.IssuedDir, name+".crt"))
	switch {
	case code == 0:
		return false
	case strings.Contains(out, "certificate revoked"):
		return true
	}
	t.Fatalf("openssl verify -crl_check %s failed for another reason:\n%s", name, out)
	return false
}

// entries reads the index as a later command would.
func entries(t *testing.T, pki string) []ca.Entry {
	t.Helper()
	c, err := ca.Load(pki)
	if err != nil {
		t.Fatalf("load the CA after the cut: %v", err)
	}
	list, err := c.List()
	if err != nil {
		t.Fatal(err)
	}
	return list
}

func serialOf(t *testing.T, pki, name string) string {
	t.Helper()
	for _, e := range entries(t, pki) {
		if e.Name == name && e.Current {
			return e.Serial
		}
	}
	t.Fatalf("%s has no current certificate", name)
	return ""
}

// assertSafe is the rule at every instant: no certificate is revoked in
// the index without crl.pem listing it.
func assertSafe(t *testing.T, pki string) {
	t.Helper()
	listed := crlSerials(t, pki)
	for _, e := range entries(t, pki) {
		if e.Revoked && !e.Expired(time.Now()) && !listed[normHex(e.Serial)] {
			t.Errorf("the index says %s (serial %s) is revoked but crl.pem does not list it: brokers still admit it", e.Name, e.Serial)
		}
	}
}

// assertClean: no temporary file of an atomic write is left.
func assertClean(t *testing.T, dir string) {
	t.Helper()
	if left := testutil.TempFiles(t, dir); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

// revokeLines counts the revoke lines of a serial in index.jsonl.
func revokeLines(t *testing.T, pki, serial string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(pki, ca.IndexFile))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), `"op":"revoke","serial":"`+serial+`"`)
}

// assertShowClean: ca show finds nothing to repair.
func (f *cutFixture) assertShowClean(t *testing.T) {
	t.Helper()
	if out, code := f.mqtls(t, f.work, "ca", "show", "--pki", "pki"); code != 0 {
		t.Errorf("ca show after the re-run: exit %d\n%s", code, out)
	}
}

// The case: cert revoke killed at each of its steps. Whatever the
// cut, crl.pem never lags the index, and running the command again leaves
// the certificate in crl.pem, refused by openssl verify -crl_check, and a
// real Mosquitto refusing it while it admits the other device.
func TestRevokeCutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"cert", "revoke", "DSN000001", "--pki", "pki"}
	serial := serialOf(t, filepath.Join(f.tmpl, "pki"), "DSN000001")
	brokerChecked := false
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			assertSafe(t, f.pki())

			out, code := f.mqtls(t, f.work, args...)
			if code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			if !crlSerials(t, f.pki())[normHex(serial)] {
				t.Errorf("after the re-run crl.pem does not list %s:\n%s", serial, out)
			}
			if !verifyRevoked(t, f.pki(), "DSN000001") {
				t.Errorf("openssl verify -crl_check accepts DSN000001 after the re-run:\n%s", out)
			}
			if verifyRevoked(t, f.pki(), "DSN000002") {
				t.Errorf("openssl verify -crl_check refuses DSN000002, which nobody revoked")
			}
			if n := revokeLines(t, f.pki(), serial); n != 1 {
				t.Errorf("the index has %d revoke lines for %s, want 1", n, serial)
			}
			assertClean(t, f.pki())
			f.assertShowClean(t)
			// One broker for the cut where the old order lost the
			// revocation: the index synced, crl.pem not yet replaced.
			if !brokerChecked && s.Syscall == "renameat" && strings.HasSuffix(s.Call, `crl.pem")`) {
				brokerChecked = true
				mosquittoRefuses(t, f.pki(), "DSN000001", "DSN000002")
			}
		})
	}
	if !brokerChecked {
		t.Error("no step renamed crl.pem: the broker check did not run")
	}
}

// mosquittoRefuses starts a real Mosquitto with the folder's chain, server
// certificate and crl.pem, and checks that it refuses the revoked device
// and admits the valid one.
func mosquittoRefuses(t *testing.T, pki, revoked, valid string) {
	t.Helper()
	testutil.Need(t, "mosquitto", "mosquitto_pub")
	port := testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\ncafile %s\ncertfile %s\nkeyfile %s\ncrlfile %s\nrequire_certificate true\nuse_identity_as_username true\nallow_anonymous true\nlog_dest stderr\nlog_type all\n",
		port, filepath.Join(pki, ca.ChainFile), filepath.Join(pki, ca.IssuedDir, "server.crt"), filepath.Join(pki, ca.IssuedDir, "server.key"), filepath.Join(pki, ca.CRLFile))
	broker := testutil.Mosquitto(t, port, conf)
	pub := func(id string) (string, int) {
		return testutil.Run(t, pki, 30*time.Second, "mosquitto_pub", "-d", "-h", "127.0.0.1", "-p", fmt.Sprint(port),
			"--cafile", ca.RootCertFile, "--cert", filepath.Join(ca.IssuedDir, id+".crt"), "--key", filepath.Join(ca.IssuedDir, id+".key"),
			"-i", id, "-t", "test/topic", "-m", "x")
	}
	if out, code := pub(valid); code != 0 || !strings.Contains(out, "received CONNACK (0)") {
		t.Fatalf("mosquitto refused the valid device %s: exit %d\n%s\n%s", valid, code, out, broker.Stderr())
	}
	if out, code := pub(revoked); code == 0 || strings.Contains(out, "CONNACK") {
		t.Errorf("mosquitto admitted the revoked device %s: exit %d\n%s", revoked, code, out)
	}
	testutil.WaitFor(t, 10*time.Second, "mosquitto to refuse the revoked certificate", func() bool {
		return strings.Contains(broker.Stderr(), "certificate verify failed")
	})
}
