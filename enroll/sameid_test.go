package enroll_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/paho"

	"mqtls/certs"
	"mqtls/dynsec"
	"mqtls/enroll"
)

// all runs the requests at once (released together) and returns the
// answers in order.
func all(t *testing.T, s *enroll.Service, from *x509.Certificate, reqs [][]byte) []enroll.Response {
	t.Helper()
	answers := make([]enroll.Response, len(reqs))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range reqs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if err := json.Unmarshal(s.Enroll(from, "test", reqs[i]), &answers[i]); err != nil {
				t.Errorf("answer %d: %v", i, err)
			}
		}()
	}
	close(start)
	wg.Wait()
	return answers
}

// TestSameIDAtOnce: two requests for the same new id at once, with
// different keys, enroll it once; the other is refused as "exists" and
// changes nothing. Several ids at once, so that the pairs overlap.
func TestSameIDAtOnce(t *testing.T) {
	t.Parallel()
	s, claim, a := newService(t, 0)
	const ids = 12
	var reqs [][]byte
	for i := range 2 * ids {
		id := fmt.Sprintf("DEV%03d", i/2)
		r, _ := json.Marshal(enroll.Request{ID: id, CSR: csr(t, id)})
		reqs = append(reqs, r)
	}
	answers := all(t, s, claim, reqs)
	st, err := dynsec.Load(filepath.Join(filepath.Dir(a.Dir()), "ds.json"))
	if err != nil {
		t.Fatal(err)
	}
	for i := range ids {
		id := fmt.Sprintf("DEV%03d", i)
		one, two := answers[2*i], answers[2*i+1]
		if two.Status == enroll.StatusIssued {
			one, two = two, one
		}
		if one.Status != enroll.StatusIssued || two.Status != enroll.StatusError || two.Code != enroll.CodeExists {
			t.Errorf("%s asked twice at once: %s/%s (%s), want issued and exists", id, one.Status, two.Code, two.Error)
			continue
		}
		blk, _ := pem.Decode([]byte(one.Certificate))
		leaf, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if e, ok, err := a.Lookup(id); err != nil || !ok || !e.Current || e.Serial != certs.SerialHex(leaf) {
			t.Errorf("%s in the index: %+v (%v), want the answered certificate current", id, e, err)
		}
		if _, err := st.Client(id); err != nil {
			t.Errorf("%s has no dynsec client in the file: %v", id, err)
		}
	}
}

// TestSameRenewalAtOnce: a device that sends several renewals at once
// (each with a new key) is renewed once; the others are refused as
// not_current and change nothing: the index holds one new certificate,
// the old one in its grace.
func TestSameRenewalAtOnce(t *testing.T) {
	t.Parallel()
	s, claim, a := newService(t, 0)
	first := all(t, s, claim, [][]byte{mustJSON(enroll.Request{ID: "DEV", CSR: csr(t, "DEV")})})[0]
	if first.Status != enroll.StatusIssued {
		t.Fatalf("enrollment: %+v", first)
	}
	blk, _ := pem.Decode([]byte(first.Certificate))
	dev, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	var reqs [][]byte
	for range 12 {
		reqs = append(reqs, mustJSON(enroll.Request{ID: "DEV", CSR: csr(t, "DEV")}))
	}
	renewed := 0
	var serial string
	for i, r := range all(t, s, dev, reqs) {
		switch {
		case r.Status == enroll.StatusRenewed:
			renewed++
			b, _ := pem.Decode([]byte(r.Certificate))
			c, err := x509.ParseCertificate(b.Bytes)
			if err != nil {
				t.Fatal(err)
			}
			serial = certs.SerialHex(c)
		case r.Code != enroll.CodeNotCurrent:
			t.Errorf("renewal %d: %s/%s (%s), want renewed or not_current", i, r.Status, r.Code, r.Error)
		}
	}
	if renewed != 1 {
		t.Fatalf("%d renewals at once renewed %d times, want once", len(reqs), renewed)
	}
	if e, ok, err := a.Lookup("DEV"); err != nil || !ok || !e.Current || e.Serial != serial {
		t.Errorf("DEV in the index: %+v (%v), want the renewed certificate %s current", e, err, serial)
	}
	if ok, err := a.HasFiles("DEV"); err != nil || !ok {
		t.Errorf("issued/DEV.crt is not the renewed certificate (%v)", err)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// TestSameIDOverTwoClaimConnections: through the broker, two claim
// connections that ask for the same new id at once (each with its own
// key) get one certificate and one "exists", for every id tried.
func TestSameIDOverTwoClaimConnections(t *testing.T) {
	t.Parallel()
	e := newBenchEnv(t)
	cs := []*benchConn{dialBench(t, e, 0), dialBench(t, e, 1)}
	for i := range 8 {
		id := fmt.Sprintf("TWICE%02d", i)
		answers := make([]enroll.Response, len(cs))
		start := make(chan struct{})
		var wg sync.WaitGroup
		for j, c := range cs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				answers[j] = c.answer(t, mustJSON(enroll.Request{ID: id, CSR: csr(t, id)}))
			}()
		}
		close(start)
		wg.Wait()
		one, two := answers[0], answers[1]
		if two.Status == enroll.StatusIssued {
			one, two = two, one
		}
		if one.Status != enroll.StatusIssued || two.Code != enroll.CodeExists {
			t.Errorf("%s asked on two connections at once: %s/%s (%s), want issued and exists", id, one.Status, two.Code, two.Error)
		}
	}
}

// answer sends one request and returns the broker's answer.
func (c *benchConn) answer(t *testing.T, req []byte) enroll.Response {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var r enroll.Response
	if _, err := c.c.Publish(ctx, &paho.Publish{Topic: enroll.Topic, Payload: req, Properties: &paho.PublishProperties{ResponseTopic: c.rt}}); err != nil {
		t.Errorf("publish the request: %v", err)
		return r
	}
	select {
	case p := <-c.resp:
		if err := json.Unmarshal(p, &r); err != nil {
			t.Errorf("answer %q: %v", p, err)
		}
	case <-ctx.Done():
		t.Error("no answer to the enrollment request")
	}
	return r
}
