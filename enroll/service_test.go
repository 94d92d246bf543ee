package enroll_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mqtls/ca"
	"mqtls/dynsec"
	"mqtls/enroll"
)

func csr(t testing.TB, cn string) string {
	t.Helper()
	k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	return csrFor(t, k, cn)
}

// csrFor is the PEM certificate request of key for the common name cn.
func csrFor(t testing.TB, key *ecdsa.PrivateKey, cn string) string {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: cn}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
}

// newCA makes a CA without password in dir and opens it.
func newCA(t testing.TB, dir string) *ca.CA {
	t.Helper()
	if err := ca.Init(dir, ca.InitOptions{}); err != nil {
		t.Fatal(err)
	}
	a, err := ca.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// emptyDynsec is a dynsec file with no client and the role "device".
const emptyDynsec = `{"clients": [], "groups": [], "roles": [{"rolename": "device"}]}`

// fixture is an enroll service on a fresh CA (pki/ in a temporary
// folder) and the dynsec file ds.json beside it, with a claim "batch".
type fixture struct {
	s     *enroll.Service
	claim *x509.Certificate
	ca    *ca.CA
	st    *dynsec.Store
	ds    string // the dynsec file's path
}

func newFixture(t testing.TB, maxUses int) fixture {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "pki")
	a := newCA(t, dir)
	claim, err := a.IssueClaim("batch", ca.ClaimOptions{MaxUses: maxUses})
	if err != nil {
		t.Fatal(err)
	}
	ds := filepath.Join(filepath.Dir(dir), "ds.json")
	if err := os.WriteFile(ds, []byte(emptyDynsec), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := dynsec.Load(ds)
	if err != nil {
		t.Fatal(err)
	}
	s, err := enroll.New(enroll.Config{CA: a, Store: st, Role: "device"})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, claim: claim.Cert, ca: a, st: st, ds: ds}
}

func newService(t testing.TB, maxUses int) (*enroll.Service, *x509.Certificate, *ca.CA) {
	t.Helper()
	f := newFixture(t, maxUses)
	return f.s, f.claim, f.ca
}

// TestClaimUsesUnderConcurrency: concurrent requests cannot overdraw a
// claim: with --max-uses 3, exactly 3 of 12 devices are enrolled.
func TestClaimUsesUnderConcurrency(t *testing.T) {
	t.Parallel()
	s, claim, a := newService(t, 3)
	var wg sync.WaitGroup
	answers := make([]enroll.Response, 12)
	for i := range answers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("DEV%03d", i)
			req, _ := json.Marshal(enroll.Request{ID: id, CSR: csr(t, id)})
			_ = json.Unmarshal(s.Enroll(claim, "test", req), &answers[i])
		}()
	}
	wg.Wait()
	issued := 0
	for _, r := range answers {
		switch {
		case r.Status == enroll.StatusIssued:
			issued++
		case r.Code != enroll.CodeClaim:
			t.Errorf("answer %+v", r)
		}
	}
	_, uses, _, err := a.Claim(fmt.Sprintf("%X", claim.SerialNumber))
	if issued != 3 || uses != 3 || err != nil {
		t.Errorf("issued %d, the index counts %d uses (%v); want 3", issued, uses, err)
	}
	// A used-up claim logs in (a device whose answer was lost asks again)
	// but enrolls no new id.
	if err := s.CheckClaim(claim); err != nil {
		t.Errorf("a used-up claim is refused at login: %v", err)
	}
	var r enroll.Response
	req, _ := json.Marshal(enroll.Request{ID: "DEV999", CSR: csr(t, "DEV999")})
	if _ = json.Unmarshal(s.Enroll(claim, "test", req), &r); r.Code != enroll.CodeClaim {
		t.Errorf("a used-up claim enrolling a new id: %+v", r)
	}
}

// TestConcurrentEnrollmentsAnswerTheirOwn: requests committed together
// (one batch: one index append, one dynsec save) each get the certificate
// for their own id and key, with refusals of other requests mixed in, and
// each issued device has its index entry, its file and its dynsec client.
func TestConcurrentEnrollmentsAnswerTheirOwn(t *testing.T) {
	t.Parallel()
	s, claim, a := newService(t, 0)
	taken, _ := json.Marshal(enroll.Request{ID: "TAKEN", CSR: csr(t, "TAKEN")})
	var first enroll.Response
	if _ = json.Unmarshal(s.Enroll(claim, "test", taken), &first); first.Status != enroll.StatusIssued {
		t.Fatalf("first enrollment: %+v", first)
	}
	const n = 24
	keys := make([]*ecdsa.PrivateKey, n)
	reqs := make([][]byte, n)
	for i := range reqs {
		id := fmt.Sprintf("DEV%03d", i)
		switch i % 6 {
		case 4: // an id already enrolled, another key
			reqs[i], _ = json.Marshal(enroll.Request{ID: "TAKEN", CSR: csr(t, "TAKEN")})
		case 5: // a CSR whose CN is another id
			reqs[i], _ = json.Marshal(enroll.Request{ID: id, CSR: csr(t, "OTHER")})
		default:
			keys[i], _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
			reqs[i], _ = json.Marshal(enroll.Request{ID: id, CSR: csrFor(t, keys[i], id)})
		}
	}
	answers := make([]enroll.Response, n)
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = json.Unmarshal(s.Enroll(claim, "test", reqs[i]), &answers[i])
		}()
	}
	wg.Wait()
	for i, r := range answers {
		id := fmt.Sprintf("DEV%03d", i)
		if keys[i] == nil {
			if r.Status != enroll.StatusError {
				t.Errorf("request %d (refused on its own) answered %+v", i, r)
			}
			continue
		}
		if r.Status != enroll.StatusIssued || r.ID != id {
			t.Errorf("%s: %+v", id, r)
			continue
		}
		blk, _ := pem.Decode([]byte(r.Certificate))
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil || leaf.Subject.CommonName != id || !keys[i].PublicKey.Equal(leaf.PublicKey) {
			t.Errorf("%s was answered with another request's certificate (%v)", id, err)
			continue
		}
		if e, ok, err := a.Lookup(id); err != nil || !ok || !e.Current || e.Serial != fmt.Sprintf("%X", leaf.SerialNumber) {
			t.Errorf("%s in the index: %+v %v", id, e, err)
		}
		if ok, err := a.HasFiles(id); !ok || err != nil {
			t.Errorf("%s has no issued/%s.crt (%v)", id, id, err)
		}
	}
	st, err := dynsec.Load(filepath.Join(filepath.Dir(a.Dir()), "ds.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range answers {
		id := fmt.Sprintf("DEV%03d", i)
		if _, err := st.Client(id); (err == nil) != (keys[i] != nil) {
			t.Errorf("%s: dynsec client in the saved file %v, want %v", id, err == nil, keys[i] != nil)
		}
	}
}
