package enroll_test

// Crash test of an enrollment, the way ca's crash tests cut its commands:
// the enrollment runs in a process of its own (this test binary, started
// as a helper), once under strace to list its fsync/rename/unlink calls,
// then again from the same starting folder, killed (SIGKILL) on entry to
// each of them in turn. After each cut no dynsec client may exist without
// its certificate, and the device's retry of the same request (the same
// key) must complete the work: one current certificate for its key, its
// dynsec client, and an answer with that certificate.

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/dynsec"
	"mqtls/enroll"
	"mqtls/internal/fileio"
	"mqtls/internal/testutil"
)

// helperEnv names the folder of the helper's enrollment.
const helperEnv = "MQTLS_ENROLL_HELPER_DIR"

// TestEnrollHelper is the process the crash test cuts: it answers the
// request in DIR/request.json, made with the claim DIR/claim.crt, with
// the CA DIR/pki and the dynsec file DIR/ds.json, and prints the answer.
func TestEnrollHelper(t *testing.T) {
	dir := os.Getenv(helperEnv)
	if dir == "" {
		t.Skip("only run by TestEnrollCutAtEveryStep")
	}
	a, err := ca.Open(filepath.Join(dir, "pki"), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dynsec.Load(filepath.Join(dir, "ds.json"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := enroll.New(enroll.Config{CA: a, Store: st, Role: "device"})
	if err != nil {
		t.Fatal(err)
	}
	claims, err := fileio.ReadCerts(filepath.Join(dir, "claim.crt"))
	if err != nil {
		t.Fatal(err)
	}
	req, err := os.ReadFile(filepath.Join(dir, "request.json"))
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("ANSWER %s\n", s.Enroll(claims[0], "helper", req))
}

// TestEnrollCutAtEveryStep: an enrollment killed at each of its steps
// (index line, certificate file, PKI sync, dynsec save) is completed by
// the device's retry, with a claim of --max-uses 1 that the cut
// enrollment already counts.
func TestEnrollCutAtEveryStep(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "strace")
	tmpl, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	a := newCA(t, filepath.Join(tmpl, "pki"))
	claim, err := a.IssueClaim("line1", ca.ClaimOptions{MaxUses: 1})
	if err != nil {
		t.Fatal(err)
	}
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req, _ := json.Marshal(enroll.Request{ID: "DSN000001", CSR: csrFor(t, key, "DSN000001")})
	env, args, reset, steps := cutSetup(t, tmpl, work, map[string][]byte{
		"ds.json":      []byte(emptyDynsec),
		"claim.crt":    claim.CertPEM(),
		"request.json": req,
	})
	if len(steps) < 4 {
		t.Fatalf("the enrollment made %d cut points, want the index, the certificate and the dynsec save at least: %v", len(steps), steps)
	}
	for _, s := range steps {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			t.Logf("cut at %s", s)
			testutil.Cut(t, work, env, s, reset, os.Args[0], args...)
			assertNoClientWithoutCert(t, work, "DSN000001")

			resp := helperAnswer(t, work, env, fmt.Sprintf("the retry after the cut at %s", s))
			if resp.Status != enroll.StatusIssued {
				t.Fatalf("the retry after the cut at %s was refused: %+v", s, resp)
			}
			blk, _ := pem.Decode([]byte(resp.Certificate))
			leaf, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if !key.PublicKey.Equal(leaf.PublicKey) {
				t.Errorf("the answered certificate is not for the request's key")
			}
			c, err := ca.Load(filepath.Join(work, "pki"))
			if err != nil {
				t.Fatal(err)
			}
			e, ok, err := c.Lookup("DSN000001")
			if err != nil || !ok || !e.Current || e.Serial != fmt.Sprintf("%X", leaf.SerialNumber) {
				t.Errorf("the index's DSN000001 %+v (%v), want the answered serial %X current", e, err, leaf.SerialNumber)
			}
			if _, uses, _, _ := c.Claim(fmt.Sprintf("%X", claim.Cert.SerialNumber)); uses != 1 {
				t.Errorf("the claim counts %d uses, want 1: one device enrolled", uses)
			}
			files, err := c.HasFiles("DSN000001")
			if err != nil || !files {
				t.Errorf("issued/DSN000001.crt is not the current certificate (%v)", err)
			}
			if crt, _ := fileio.ReadCerts(c.IssuedPath("DSN000001", ".crt")); len(crt) == 0 || !bytes.Equal(crt[0].Raw, leaf.Raw) {
				t.Errorf("issued/DSN000001.crt is not the answered certificate")
			}
			st, err := dynsec.Load(filepath.Join(work, "ds.json"))
			if err != nil {
				t.Fatal(err)
			}
			cl, err := st.Client("DSN000001")
			if err != nil || len(cl.Roles) != 1 || cl.Roles[0].Role != "device" {
				t.Errorf("dynsec client DSN000001 after the retry: %+v (%v)", cl, err)
			}
			if left := testutil.TempFiles(t, work); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}

// cutSetup writes files into the template folder tmpl, copies it to work
// and lists the cut points of the helper's run there: reset restores work
// from tmpl before each cut.
func cutSetup(t *testing.T, tmpl, work string, files map[string][]byte) (env, args []string, reset func(), steps []testutil.Step) {
	t.Helper()
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmpl, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	env = []string{helperEnv + "=" + work}
	args = []string{"-test.run=^TestEnrollHelper$", "-test.count=1"}
	reset = func() { testutil.ResetDir(t, tmpl, work) }
	reset()
	return env, args, reset, testutil.Steps(t, work, env, os.Args[0], args...)
}

// helperAnswer runs the helper to its end in work and returns its answer;
// what names the run in a failure.
func helperAnswer(t *testing.T, work string, env []string, what string) enroll.Response {
	t.Helper()
	out, code := testutil.Run(t, work, time.Minute, "env", append(env, os.Args[0], "-test.run=^TestEnrollHelper$", "-test.count=1", "-test.v")...)
	if code != 0 {
		t.Fatalf("%s: exit %d\n%s", what, code, out)
	}
	_, ans, ok := strings.Cut(out, "ANSWER ")
	var resp enroll.Response
	if !ok || json.NewDecoder(strings.NewReader(ans)).Decode(&resp) != nil {
		t.Fatalf("no answer from %s:\n%s", what, out)
	}
	return resp
}

// assertNoClientWithoutCert: a dynsec client for id exists only beside a
// current certificate of id in the index and in issued/.
func assertNoClientWithoutCert(t *testing.T, dir, id string) {
	t.Helper()
	st, err := dynsec.Load(filepath.Join(dir, "ds.json"))
	if err != nil {
		t.Fatalf("the dynsec file after the cut: %v", err)
	}
	if _, err := st.Client(id); err != nil {
		return
	}
	c, err := ca.Load(filepath.Join(dir, "pki"))
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := c.HasFiles(id); err != nil || !ok {
		t.Errorf("after the cut %s has a dynsec client but no current certificate in issued/ (%v)", id, err)
	}
}

// TestRenewCutAtEveryStep: a renewal over MQTT killed at each of its
// steps (the index's two lines, the removal of files of the old
// certificate, the new certificate's file) leaves the device on its old
// certificate, still in its grace; the device's re-run, which makes a new
// key as mqtls enroll --renew does, renews it: the certificate the cut
// renewal signed, which nobody got, is replaced.
func TestRenewCutAtEveryStep(t *testing.T) {
	t.Parallel()
	testutil.Need(t, "strace")
	tmpl, work := t.TempDir(), filepath.Join(t.TempDir(), "work")
	a := newCA(t, filepath.Join(tmpl, "pki"))
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	dev, err := a.Issue(certs.Request{Kind: certs.Client, Name: "DSN000001", PublicKey: key.Public()})
	if err != nil {
		t.Fatal(err)
	}
	renewal := func() []byte {
		req, _ := json.Marshal(enroll.Request{ID: "DSN000001", CSR: csr(t, "DSN000001")})
		return req
	}
	env, args, reset, steps := cutSetup(t, tmpl, work, map[string][]byte{
		"ds.json":      []byte(`{"clients": [{"username": "DSN000001", "roles": [{"rolename": "device"}]}], "groups": [], "roles": [{"rolename": "device"}]}`),
		"claim.crt":    dev.CertPEM(), // the helper's requester: here the device's own certificate
		"request.json": renewal(),
	})
	if len(steps) < 2 {
		t.Fatalf("the renewal made %d cut points, want the index and the certificate at least: %v", len(steps), steps)
	}
	for _, s := range steps {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			t.Logf("cut at %s", s)
			testutil.Cut(t, work, env, s, reset, os.Args[0], args...)
			c, err := ca.Load(filepath.Join(work, "pki"))
			if err != nil {
				t.Fatal(err)
			}
			if old, ok, err := c.Lookup(certs.SerialHex(dev.Cert)); err != nil || !ok || old.Revoked {
				t.Fatalf("after the cut the old certificate is %+v (%v): the device is cut off", old, err)
			}
			// The re-run: a new key, from the old certificate.
			if err := os.WriteFile(filepath.Join(work, "request.json"), renewal(), 0o600); err != nil {
				t.Fatal(err)
			}
			resp := helperAnswer(t, work, env, fmt.Sprintf("the re-run after the cut at %s", s))
			if resp.Status != enroll.StatusRenewed {
				t.Fatalf("the re-run after the cut at %s was refused: %+v", s, resp)
			}
			blk, _ := pem.Decode([]byte(resp.Certificate))
			leaf, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			if c, err = ca.Load(filepath.Join(work, "pki")); err != nil {
				t.Fatal(err)
			}
			e, ok, err := c.Lookup("DSN000001")
			if err != nil || !ok || !e.Current || e.Serial != certs.SerialHex(leaf) {
				t.Errorf("the index's DSN000001 %+v (%v), want the answered serial %s current", e, err, certs.SerialHex(leaf))
			}
			if files, err := c.HasFiles("DSN000001"); err != nil || !files {
				t.Errorf("issued/DSN000001.crt is not the current certificate (%v)", err)
			}
			if old, _, _ := c.Lookup(certs.SerialHex(dev.Cert)); !old.Pending(time.Now()) {
				t.Errorf("the old certificate after the re-run: %+v, want it in its grace", old)
			}
			if left := testutil.TempFiles(t, work); len(left) > 0 {
				t.Errorf("temporary files left behind: %v", left)
			}
		})
	}
}
