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

// assertReadersAgree: what the index's readers say (cert list, a claim
// check, an enrollment's retry) never calls valid a certificate crl.pem
// lists, so none is handed out or shown valid while every broker refuses
// it.
func assertReadersAgree(t *testing.T, pki string) {
	t.Helper()
	listed := crlSerials(t, pki)
	for _, e := range entries(t, pki) {
		if listed[normHex(e.Serial)] && (!e.Revoked || e.Current) {
			t.Errorf("crl.pem lists %s (serial %s) but the index's readers call it %s", e.Name, e.Serial, e.Status(time.Now()))
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

// The issue's case: cert revoke killed at each of its steps. Whatever the
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
			assertReadersAgree(t, f.pki())

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

// assertShowAgrees: ca show fails, naming the repair, exactly when the
// folder is in a state a writer must complete, as openssl and the index
// tell it: a revocation crl.pem lacks, one crl.pem lists that the index
// lacks, or a certificate neither current, revoked nor in its renewal
// grace (a cut renewal).
func (f *cutFixture) assertShowAgrees(t *testing.T) {
	t.Helper()
	listed := crlSerials(t, f.pki())
	var pending []string
	for _, e := range entries(t, f.pki()) {
		in := listed[normHex(e.Serial)]
		// The index's own line, not its readers (which call revoked what
		// crl.pem lists): a revocation without its line is unfinished.
		revoked := revokeLines(t, f.pki(), e.Serial) > 0
		switch {
		case e.Expired(time.Now()), e.Pending(time.Now()) && !in:
		case revoked && !in, !revoked && in, !revoked && !e.Current:
			pending = append(pending, e.Name+" "+e.Serial)
		}
	}
	out, code := f.mqtls(t, f.work, "ca", "show", "--pki", "pki")
	switch {
	case len(pending) == 0 && code != 0:
		t.Errorf("ca show fails on a consistent folder: exit %d\n%s", code, out)
	case len(pending) > 0 && (code != 1 || !strings.Contains(out, "mqtls ca crl")):
		t.Errorf("ca show does not report %v as needing repair: exit %d\n%s", pending, code, out)
	}
}

// cert renew killed at each step: a cut before crl.pem lists the old
// certificate leaves it valid (and ca show reporting the unfinished
// renewal); a re-run completes it. Afterwards every older certificate of
// the name is in crl.pem and the current one has its files and passes
// openssl verify -crl_check.
func TestRenewCutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"cert", "renew", "DSN000001", "--grace", "0", "--pki", "pki"}
	first := serialOf(t, filepath.Join(f.tmpl, "pki"), "DSN000001")
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			assertSafe(t, f.pki())
			f.assertShowAgrees(t)

			out, code := f.mqtls(t, f.work, args...)
			if code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			listed := crlSerials(t, f.pki())
			if !listed[normHex(first)] {
				t.Errorf("after the re-run crl.pem does not list the first certificate %s:\n%s", first, out)
			}
			current := serialOf(t, f.pki(), "DSN000001")
			for _, e := range entries(t, f.pki()) {
				if e.Name == "DSN000001" && e.Serial != current && (!e.Revoked || !listed[normHex(e.Serial)]) {
					t.Errorf("older certificate %s of DSN000001 is not revoked in both the index (%v) and crl.pem", e.Serial, e.Revoked)
				}
			}
			if listed[normHex(current)] || verifyRevoked(t, f.pki(), "DSN000001") {
				t.Errorf("the renewed certificate %s is revoked", current)
			}
			assertFilesOf(t, f.pki(), "DSN000001", current)
			assertClean(t, f.pki())
			f.assertShowClean(t)
		})
	}
}

// cert renew with a grace period killed at each step: the old certificate
// is never dropped from crl.pem nor kept past its grace; at every instant
// it is current, pending (valid until its grace ends) or revoked, and a
// re-run leaves it pending or revoked and the new one with its files.
func TestRenewGraceCutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"cert", "renew", "DSN000001", "--grace", "1h", "--pki", "pki"}
	first := serialOf(t, filepath.Join(f.tmpl, "pki"), "DSN000001")
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			assertSafe(t, f.pki())
			f.assertShowAgrees(t)
			if out, code := f.mqtls(t, f.work, args...); code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			now := time.Now()
			current := serialOf(t, f.pki(), "DSN000001")
			listed := crlSerials(t, f.pki())
			for _, e := range entries(t, f.pki()) {
				if e.Name != "DSN000001" || e.Serial == current {
					continue
				}
				switch {
				case e.Revoked && !listed[normHex(e.Serial)]:
					t.Errorf("older certificate %s is revoked in the index but not in crl.pem", e.Serial)
				case !e.Revoked && !e.Pending(now):
					t.Errorf("older certificate %s is neither revoked nor in its grace: %+v", e.Serial, e)
				case e.Pending(now) && e.GraceUntil.After(now.Add(time.Hour)):
					t.Errorf("older certificate %s has a grace past the hour asked: %v", e.Serial, e.GraceUntil)
				}
			}
			if e, ok := entryOf(t, f.pki(), first); !ok || (!e.Revoked && !e.Pending(now)) {
				t.Errorf("the first certificate %s after the re-run: %+v", first, e)
			}
			if listed[normHex(current)] || verifyRevoked(t, f.pki(), "DSN000001") {
				t.Errorf("the renewed certificate %s is revoked", current)
			}
			assertFilesOf(t, f.pki(), "DSN000001", current)
			assertClean(t, f.pki())
		})
	}
}

func entryOf(t *testing.T, pki, serial string) (ca.Entry, bool) {
	t.Helper()
	for _, e := range entries(t, pki) {
		if normHex(e.Serial) == normHex(serial) {
			return e, true
		}
	}
	return ca.Entry{}, false
}

// assertFilesOf: issued/NAME.crt is the certificate with serial and
// issued/NAME.key its key, as openssl sees them.
func assertFilesOf(t *testing.T, pki, name, serial string) {
	t.Helper()
	crt, key := filepath.Join(ca.IssuedDir, name+".crt"), filepath.Join(ca.IssuedDir, name+".key")
	out, code := openssl(t, pki, "x509", "-in", crt, "-noout", "-serial")
	if code != 0 || normHex(strings.TrimPrefix(strings.TrimSpace(out), "serial=")) != normHex(serial) {
		t.Errorf("%s is not the certificate %s: %s", crt, serial, out)
	}
	certKey, code1 := openssl(t, pki, "x509", "-in", crt, "-noout", "-pubkey")
	keyKey, code2 := openssl(t, pki, "pkey", "-in", key, "-pubout")
	if code1 != 0 || code2 != 0 || certKey != keyKey {
		t.Errorf("%s does not hold the key of %s:\n%s\n%s", key, crt, certKey, keyKey)
	}
}

// cert client killed at each step: a re-run issues the certificate (an
// index line without files is revoked and replaced) and leaves no
// temporary file, in particular no stray copy of the private key.
func TestIssueCutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"cert", "client", "DSN000003", "--pki", "pki"}
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			assertSafe(t, f.pki())
			out, code := f.mqtls(t, f.work, args...)
			if code != 0 && !strings.Contains(out, "already issued") {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			// "already issued" is right only when the cut came after the
			// files were written: they must be whole.
			current := serialOf(t, f.pki(), "DSN000003")
			assertFilesOf(t, f.pki(), "DSN000003", current)
			if verifyRevoked(t, f.pki(), "DSN000003") {
				t.Errorf("the issued certificate is revoked:\n%s", out)
			}
			listed := crlSerials(t, f.pki())
			for _, e := range entries(t, f.pki()) {
				if e.Name == "DSN000003" && e.Serial != current {
					if !listed[normHex(e.Serial)] {
						t.Errorf("the unfinished certificate %s of DSN000003 is not in crl.pem", e.Serial)
					}
					if !strings.Contains(out, "completed an interrupted issue") {
						t.Errorf("the re-run replaced %s without saying so:\n%s", e.Serial, out)
					}
				}
			}
			assertClean(t, f.pki())
			f.assertShowClean(t)
		})
	}
}

// mqtls p12 killed at each step: the re-run leaves a bundle that opens
// with the password beside it, and no temporary file.
func TestP12CutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"p12", "DSN000001", "--pki", "pki"}
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			if out, code := f.mqtls(t, f.work, args...); code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			p12 := filepath.Join(ca.IssuedDir, "DSN000001.p12")
			if out, code := openssl(t, f.pki(), "pkcs12", "-in", p12, "-passin", "file:"+p12+".pass", "-noout"); code != 0 {
				t.Errorf("the p12 does not open with its password file: %s", out)
			}
			assertClean(t, f.pki())
		})
	}
}

// ca init killed at each step: the folder never holds a CA that loads
// with a file missing, and a re-run creates a whole CA (it used to refuse
// the files the cut init had left).
func TestInitCutAtEveryStep(t *testing.T) {
	t.Parallel()
	f := newCutFixture(t)
	args := []string{"ca", "init", "--no-password", "--insecure", "--pki", "fresh"}
	for _, s := range f.steps(t, args...) {
		t.Run(stepName(s), func(t *testing.T) {
			f.cut(t, s, args...)
			dir := filepath.Join(f.work, "fresh")
			if ca.Exists(dir) {
				if _, err := ca.Load(dir); err != nil {
					t.Errorf("after the cut the folder looks like a CA but does not load: %v", err)
				}
			}
			out, code := f.mqtls(t, f.work, args...)
			if ca.Exists(dir) && code != 0 && strings.Contains(out, "already exists") {
				// The cut came after root.crt: the CA was whole.
			} else if code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			if out, code := openssl(t, dir, "verify", "-CAfile", ca.RootCertFile, ca.CACertFile); code != 0 {
				t.Errorf("openssl verify of the issuing CA: %s", out)
			}
			if out, code := f.mqtls(t, f.work, "cert", "client", "DSN000009", "--pki", "fresh"); code != 0 {
				t.Errorf("the re-made CA cannot issue: exit %d\n%s", code, out)
			}
			if out, code := f.mqtls(t, f.work, "ca", "show", "--pki", "fresh"); code != 0 {
				t.Errorf("ca show: exit %d\n%s", code, out)
			}
			assertClean(t, dir)
		})
	}
}
