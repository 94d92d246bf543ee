package enroll_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/dynsec"
	"mqtls/enroll"
)

// TestFailedDynsecSaveUndoesTheBatch: when the dynsec file cannot be
// written (its temporary file's name is taken by a folder), the devices of
// the batch are refused with an error to retry, and nothing of them is
// left: no dynsec client in the broker's memory or in the file, no current
// certificate, no use of the claim. Once the file can be written again,
// the same requests enroll them, with a claim of --max-uses equal to the
// batch.
func TestFailedDynsecSaveUndoesTheBatch(t *testing.T) {
	t.Parallel()
	const n = 6
	f := newFixture(t, n)
	s, claim, a, st, ds := f.s, f.claim, f.ca, f.st, f.ds
	// The save writes ds.json.new, then renames it: a folder of that name
	// makes every save fail, for root too.
	if err := os.MkdirAll(filepath.Join(ds+".new", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	var reqs [][]byte
	for i := range n {
		id := fmt.Sprintf("DEV%03d", i)
		reqs = append(reqs, mustJSON(enroll.Request{ID: id, CSR: csr(t, id)}))
	}
	for i, r := range all(t, s, claim, reqs) {
		if r.Status != enroll.StatusError || r.Code != enroll.CodeInternal {
			t.Errorf("DEV%03d with the dynsec file unwritable: %s/%s (%s), want an internal error", i, r.Status, r.Code, r.Error)
		}
	}
	onDisk, err := dynsec.Load(ds)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("DEV%03d", i)
		if _, err := st.Client(id); err == nil {
			t.Errorf("%s: its dynsec client stayed in the broker's memory after the failed save", id)
		}
		if _, err := onDisk.Client(id); err == nil {
			t.Errorf("%s: its dynsec client is in the file after the failed save", id)
		}
		if e, ok, err := a.Lookup(id); err != nil || (ok && e.Current) {
			t.Errorf("%s: its certificate is current after the failed save: %+v (%v)", id, e, err)
		}
	}
	if err := os.RemoveAll(ds + ".new"); err != nil {
		t.Fatal(err)
	}
	for i, r := range all(t, s, claim, reqs) {
		id := fmt.Sprintf("DEV%03d", i)
		if r.Status != enroll.StatusIssued {
			t.Errorf("%s retried once the file can be written: %s/%s (%s), want issued", id, r.Status, r.Code, r.Error)
		}
	}
	if onDisk, err = dynsec.Load(ds); err != nil {
		t.Fatal(err)
	}
	for i := range n {
		id := fmt.Sprintf("DEV%03d", i)
		if _, err := onDisk.Client(id); err != nil {
			t.Errorf("%s: no dynsec client in the file after the retry: %v", id, err)
		}
		if e, ok, err := a.Lookup(id); err != nil || !ok || !e.Current {
			t.Errorf("%s: no current certificate after the retry: %+v (%v)", id, e, err)
		}
	}
	if _, uses, _, err := a.Claim(certs.SerialHex(claim)); uses != n || err != nil {
		t.Errorf("the claim counts %d uses (%v), want %d: each device once", uses, err, n)
	}
}

// TestFailedDynsecSaveOnRetry: the retry of an enrollment cut before its
// dynsec client was saved (its certificate current, with its file) creates
// the missing client; when that save fails, the client does not stay in
// the broker's memory, where the next retry would take it for saved and
// answer the device before the file holds it.
func TestFailedDynsecSaveOnRetry(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	s, claim, a, st, ds := f.s, f.claim, f.ca, f.st, f.ds
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	req := mustJSON(enroll.Request{ID: "DEV", CSR: csrFor(t, key, "DEV")})
	// What a cut before the dynsec save leaves: the certificate, enrolled
	// with the claim, current and in issued/; no client.
	if _, err := a.Issue(certs.Request{Kind: certs.Client, Name: "DEV", PublicKey: key.Public(), EnrolledBy: certs.SerialHex(claim)}); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(ds+".new", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if r := all(t, s, claim, [][]byte{req})[0]; r.Status != enroll.StatusError || r.Code != enroll.CodeInternal {
		t.Errorf("the retry with the dynsec file unwritable: %s/%s (%s), want an internal error", r.Status, r.Code, r.Error)
	}
	if _, err := st.Client("DEV"); err == nil {
		t.Errorf("DEV's dynsec client stayed in the broker's memory after the failed save")
	}
	if err := os.RemoveAll(ds + ".new"); err != nil {
		t.Fatal(err)
	}
	if r := all(t, s, claim, [][]byte{req})[0]; r.Status != enroll.StatusIssued {
		t.Errorf("the retry once the file can be written: %s/%s (%s), want issued", r.Status, r.Code, r.Error)
	}
	onDisk, err := dynsec.Load(ds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onDisk.Client("DEV"); err != nil {
		t.Errorf("DEV has no dynsec client in the file after the retry: %v", err)
	}
}

// TestFailedDynsecSaveGivesTheClaimUseBack: an enrollment undone because
// the dynsec file could not be saved takes no use of its claim, in this
// process or in the index as the next run reads it: with --max-uses 1,
// another id enrolls once the file can be written, and a third is refused.
func TestFailedDynsecSaveGivesTheClaimUseBack(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	if err := os.MkdirAll(filepath.Join(f.ds+".new", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	req := func(id string) []byte { return mustJSON(enroll.Request{ID: id, CSR: csr(t, id)}) }
	if r := all(t, f.s, f.claim, [][]byte{req("DEV000")})[0]; r.Status != enroll.StatusError || r.Code != enroll.CodeInternal {
		t.Fatalf("DEV000 with the dynsec file unwritable: %s/%s (%s), want an internal error", r.Status, r.Code, r.Error)
	}
	if err := os.RemoveAll(f.ds + ".new"); err != nil {
		t.Fatal(err)
	}
	next, err := ca.Open(f.ca.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, uses, _, err := next.Claim(certs.SerialHex(f.claim)); uses != 0 || err != nil {
		t.Errorf("after the undone enrollment the index counts %d uses of the claim (%v), want 0", uses, err)
	}
	if r := all(t, f.s, f.claim, [][]byte{req("DEV001")})[0]; r.Status != enroll.StatusIssued {
		t.Errorf("DEV001 with the claim of the undone enrollment: %s/%s (%s), want issued", r.Status, r.Code, r.Error)
	}
	if r := all(t, f.s, f.claim, [][]byte{req("DEV002")})[0]; r.Code != enroll.CodeClaim {
		t.Errorf("DEV002 once DEV001 used the claim up: %s/%s (%s), want refused (claim)", r.Status, r.Code, r.Error)
	}
	if r := all(t, f.s, f.claim, [][]byte{req("DEV000")})[0]; r.Code != enroll.CodeClaim {
		t.Errorf("DEV000 again once DEV001 used the claim up: %s/%s (%s), want refused (claim)", r.Status, r.Code, r.Error)
	}
	if _, uses, _, err := f.ca.Claim(certs.SerialHex(f.claim)); uses != 1 || err != nil {
		t.Errorf("the claim counts %d uses (%v), want 1", uses, err)
	}
}

// TestUndoneClientLeftInTheFileIsRemoved: a batch whose dynsec save failed
// after its rename, and whose cleanup save failed too, leaves the file
// with the clients of certificates the CA revoked and undid (the state is
// made by enrolling, then undoing the certificate as the failed batch
// does). The next start takes such a client out of the file, and the
// device's retry enrolls it again instead of being refused as already
// enrolled.
func TestUndoneClientLeftInTheFileIsRemoved(t *testing.T) {
	t.Parallel()
	f := newFixture(t, 1)
	req := mustJSON(enroll.Request{ID: "DEV", CSR: csr(t, "DEV")})
	if r := all(t, f.s, f.claim, [][]byte{req})[0]; r.Status != enroll.StatusIssued {
		t.Fatalf("enroll DEV: %s/%s (%s)", r.Status, r.Code, r.Error)
	}
	e, _, _ := f.ca.Lookup("DEV")
	if _, err := f.ca.Undo(e.Serial); err != nil {
		t.Fatal(err)
	}
	// The next start, on the same files.
	a, err := ca.Open(f.ca.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dynsec.Load(f.ds)
	if err != nil {
		t.Fatal(err)
	}
	s, err := enroll.New(enroll.Config{CA: a, Store: st, Role: "device"})
	if err != nil {
		t.Fatal(err)
	}
	onDisk, err := dynsec.Load(f.ds)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onDisk.Client("DEV"); err == nil {
		t.Errorf("the start left DEV's dynsec client in the file, whose certificate %s is revoked", e.Serial)
	}
	if r := all(t, s, f.claim, [][]byte{mustJSON(enroll.Request{ID: "DEV", CSR: csr(t, "DEV")})})[0]; r.Status != enroll.StatusIssued {
		t.Errorf("DEV's retry after the start: %s/%s (%s), want issued", r.Status, r.Code, r.Error)
	}
}
