package device_test

// Crash tests of the device commands on a dynamic security file: each
// command is run once under strace to list its fsync/rename/unlink calls,
// then killed (SIGKILL) on entry to each of them in turn, from the same
// starting folder. After each cut the dynamic security file is the old or
// the new one (never half), a revoked certificate is listed in crl.pem,
// and a re-run completes the work and leaves no temporary file. See
// testutil.Cut for how the cut is placed.

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// cutFleet is a fleet built once (tmpl) and the folder each cut runs in
// (work): a copy, so every cut starts from the same files.
type cutFleet struct {
	tmpl *fleet
	work *fleet
}

func newCutFleet(t *testing.T, setup ...[]string) *cutFleet {
	t.Helper()
	testutil.Need(t, "strace", "openssl")
	tmpl := newFleet(t)
	for _, args := range setup {
		if out, code := tmpl.mqtls(t, args...); code != 0 {
			t.Fatalf("mqtls %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
	dir := filepath.Join(t.TempDir(), "work")
	return &cutFleet{tmpl: tmpl, work: &fleet{dir: dir, pki: filepath.Join(dir, "pki"), dsFile: filepath.Join(dir, "dynamic-security.json")}}
}

func (c *cutFleet) reset(t *testing.T) func() {
	return func() { testutil.ResetDir(t, c.tmpl.dir, c.work.dir) }
}

// args makes a command line with the work folder's relative paths.
func cutArgs(args ...string) []string { return append(args, "--pki", "pki") }

func (c *cutFleet) steps(t *testing.T, args []string) []testutil.Step {
	t.Helper()
	c.reset(t)()
	steps := testutil.Steps(t, c.work.dir, nil, testutil.Mqtls(t), args...)
	for _, s := range steps {
		t.Logf("step %s", s)
	}
	return steps
}

func (c *cutFleet) cut(t *testing.T, s testutil.Step, args []string) {
	t.Helper()
	testutil.Cut(t, c.work.dir, nil, s, c.reset(t), testutil.Mqtls(t), args...)
}

func (c *cutFleet) run(t *testing.T, args []string) (string, int) {
	t.Helper()
	return testutil.Run(t, c.work.dir, time.Minute, testutil.Mqtls(t), args...)
}

// assertOldOrNew: the dynamic security file is byte for byte the one
// before the command, or a whole file that Mosquitto's format loads.
func (c *cutFleet) assertOldOrNew(t *testing.T) *dynsec.Store {
	t.Helper()
	got, err := os.ReadFile(c.work.dsFile)
	if err != nil {
		t.Fatalf("the dynamic security file after the cut: %v", err)
	}
	old, err := os.ReadFile(c.tmpl.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	s, err := dynsec.Load(c.work.dsFile)
	if err != nil {
		t.Fatalf("the dynamic security file after the cut is neither the old one nor a whole new one: %v", err)
	}
	if !bytes.Equal(got, old) && len(bytes.TrimSpace(got)) == 0 {
		t.Fatalf("the dynamic security file is empty after the cut")
	}
	return s
}

// assertNoTemps: no temporary file of an atomic write in the work folder
// (the PKI and the dynamic security file's folder).
func (c *cutFleet) assertNoTemps(t *testing.T) {
	t.Helper()
	if left := testutil.TempFiles(t, c.work.dir); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}

var serialRE = regexp.MustCompile(`Serial Number: ([0-9A-Fa-f]+)`)

// listed reports whether openssl finds serial in crl.pem's issuing-CA CRL.
func (c *cutFleet) listed(t *testing.T, serial string) bool {
	t.Helper()
	out, code := testutil.Run(t, c.work.pki, 30*time.Second, "openssl", "crl", "-in", ca.CRLFile, "-noout", "-text")
	if code != 0 {
		t.Fatalf("openssl crl: %s", out)
	}
	for _, m := range serialRE.FindAllStringSubmatch(out, -1) {
		if strings.TrimLeft(strings.ToUpper(m[1]), "0") == strings.TrimLeft(serial, "0") {
			return true
		}
	}
	return false
}

func (c *cutFleet) entry(t *testing.T, id string) ca.Entry {
	t.Helper()
	a, err := ca.Load(c.work.pki)
	if err != nil {
		t.Fatal(err)
	}
	e, ok, err := a.Lookup(id)
	if err != nil || !ok {
		t.Fatalf("lookup %s: %v %v", id, ok, err)
	}
	return e
}

// device add -f killed at each step: the re-run completes the device (its
// files, p12 and client) and removes what the kill left.
func TestDeviceAddCutAtEveryStep(t *testing.T) {
	t.Parallel()
	c := newCutFleet(t)
	args := cutArgs("device", "add", "DSN000007", "-f", "dynamic-security.json")
	for _, s := range c.steps(t, args) {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			c.cut(t, s, args)
			c.assertOldOrNew(t)
			out, code := c.run(t, args)
			if code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			st := c.assertOldOrNew(t)
			cl, err := st.Client("DSN000007")
			if err != nil || cl.Disabled {
				t.Fatalf("client after the re-run: %+v %v\n%s", cl, err, out)
			}
			e := c.entry(t, "DSN000007")
			if !e.Current || c.listed(t, e.Serial) {
				t.Errorf("the device's certificate is not current and valid: %+v", e)
			}
			p12 := c.work.issued("DSN000007.p12")
			if out, code := testutil.Run(t, c.work.dir, 30*time.Second, "openssl", "pkcs12", "-in", p12, "-passin", "file:"+p12+".pass", "-noout"); code != 0 {
				t.Errorf("the p12 does not open with its password file: %s", out)
			}
			c.assertNoTemps(t)
			if out, code := c.run(t, cutArgs("ca", "show")); code != 0 {
				t.Errorf("ca show: exit %d\n%s", code, out)
			}
		})
	}
}

// device revoke -f killed at each step: crl.pem never lags the index, and
// the re-run leaves the certificate in crl.pem, the client disabled, and,
// for the cut where the old order lost the revocation, a broker (mqtls
// broker as a process, serving a dynamic security copy in which the client
// is still enabled, so only crl.pem can refuse it) refusing the device.
func TestDeviceRevokeCutAtEveryStep(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "mosquitto_pub")
	c := newCutFleet(t,
		[]string{"device", "add", "DSN000007", "-f", "dynamic-security.json"},
		[]string{"device", "add", "DSN000008", "-f", "dynamic-security.json"},
		[]string{"cert", "server", "--host", "localhost", "--ip", "127.0.0.1"})
	served, err := os.ReadFile(c.tmpl.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	args := cutArgs("device", "revoke", "DSN000007", "-f", "dynamic-security.json")
	serial := c.tmplEntry(t, "DSN000007").Serial
	brokerChecked := false
	for _, s := range c.steps(t, args) {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			c.cut(t, s, args)
			c.assertOldOrNew(t)
			if e := c.entry(t, "DSN000007"); e.Revoked && !c.listed(t, serial) {
				t.Errorf("after the cut the index says revoked but crl.pem does not list %s: brokers still admit it", serial)
			}
			out, code := c.run(t, args)
			if code != 0 {
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			if !c.listed(t, serial) {
				t.Errorf("after the re-run crl.pem does not list %s:\n%s", serial, out)
			}
			if e := c.entry(t, "DSN000007"); !e.Revoked {
				t.Errorf("the index does not record the revocation: %+v", e)
			}
			st := c.assertOldOrNew(t)
			if cl, err := st.Client("DSN000007"); err != nil || !cl.Disabled {
				t.Errorf("client after the re-run: %+v %v", cl, err)
			}
			c.assertNoTemps(t)
			if !brokerChecked && s.Syscall == "renameat" && strings.HasSuffix(s.Call, `crl.pem")`) {
				brokerChecked = true
				c.brokerRefuses(t, served, "DSN000007", "DSN000008")
			}
		})
	}
	if !brokerChecked {
		t.Error("no step renamed crl.pem: the broker check did not run")
	}
}

func (c *cutFleet) tmplEntry(t *testing.T, id string) ca.Entry {
	t.Helper()
	a, err := ca.Load(c.tmpl.pki)
	if err != nil {
		t.Fatal(err)
	}
	e, ok, err := a.Lookup(id)
	if err != nil || !ok {
		t.Fatalf("lookup %s: %v %v", id, ok, err)
	}
	return e
}

// brokerRefuses runs our broker with the work folder's crl.pem and a copy
// of the dynamic security file from before the revoke, and checks with
// mosquitto_pub that the revoked device is refused at the handshake and
// the other device admitted.
func (c *cutFleet) brokerRefuses(t *testing.T, served []byte, revoked, valid string) {
	t.Helper()
	ds := filepath.Join(t.TempDir(), "served-dynamic-security.json")
	if err := os.WriteFile(ds, served, 0o600); err != nil {
		t.Fatal(err)
	}
	b := c.work.ourBroker(t, brokerOpts{dsFile: ds})
	pub := func(id string) (string, int) {
		return testutil.Run(t, c.work.dir, time.Minute, "mosquitto_pub", c.work.deviceArgs(id, b.port, "-t", "devices/"+id+"/x", "-m", "x")...)
	}
	if out, code := pub(valid); code != 0 {
		t.Fatalf("the broker refused the valid device %s: exit %d\n%s\n%s", valid, code, out, b.Stderr())
	}
	before := len(b.Stderr())
	if out, code := pub(revoked); code == 0 {
		t.Fatalf("the broker admitted the revoked device %s:\n%s", revoked, out)
	}
	b.waitLogAfter(t, before, "refused: TLS handshake")
	log := b.Stderr()[before:]
	if !strings.Contains(log, "is revoked") {
		t.Errorf("the broker refused the handshake for another reason:\n%s", log)
	}
	t.Logf("the broker admitted %s and refused %s: %s", valid, revoked, strings.TrimSpace(log))
}

// mqtls dynsec -f killed at each step of a change: the file is the old or
// the new one, and the next change leaves no temporary file.
func TestDynsecFileCutAtEveryStep(t *testing.T) {
	t.Parallel()
	c := newCutFleet(t)
	args := []string{"dynsec", "-f", "dynamic-security.json", "createClient", "c1", "--no-password"}
	for _, s := range c.steps(t, args) {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			c.cut(t, s, args)
			st := c.assertOldOrNew(t)
			_, had := st.Client("c1")
			out, code := c.run(t, args)
			switch {
			case had == nil && code == 0:
				t.Errorf("createClient of an existing client succeeded:\n%s", out)
			case had != nil && code != 0:
				t.Fatalf("re-run after the cut at %s: exit %d\n%s", s, code, out)
			}
			if _, err := c.assertOldOrNew(t).Client("c1"); err != nil {
				t.Errorf("client c1 after the re-run: %v", err)
			}
			if out, code := c.run(t, []string{"dynsec", "-f", "dynamic-security.json", "createClient", "c2", "--no-password"}); code != 0 {
				t.Fatalf("a later change: exit %d\n%s", code, out)
			}
			c.assertNoTemps(t)
		})
	}
}
