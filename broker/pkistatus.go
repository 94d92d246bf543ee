package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"mqtls/ca"
)

// The states the inspector's Access view shows for a client's certificate
// (the certificates of the PKI whose CN is the client's user name).
const (
	CertValid      = "valid"
	CertRevoked    = "revoked"
	CertExpired    = "expired"
	CertNotYet     = "not yet valid"
	CertSuperseded = "superseded"
	CertNone       = "none"
)

// pkiStatus answers, for the inspector, whether the PKI of enroll_pki holds
// a certificate for a CN. It reads the index without the CA keys and
// replays it again only when index.jsonl changed (its size, time or file),
// so a page that lists every client costs one stat while nothing is issued.
type pkiStatus struct {
	dir string

	mu   sync.Mutex
	ca   *ca.CA
	seen os.FileInfo
	byCN map[string][]ca.Entry // oldest first
}

func newPKIStatus(dir string) (*pkiStatus, error) {
	c, err := ca.Load(dir)
	if err != nil {
		return nil, err
	}
	return &pkiStatus{dir: dir, ca: c}, nil
}

// States gives each CN's state at now, CertNone for a CN that the PKI never
// issued a certificate to.
func (p *pkiStatus) States(cns []string, now time.Time) (map[string]string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if err := p.refresh(); err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cns))
	for _, cn := range cns {
		out[cn] = certState(p.byCN[cn], now)
	}
	return out, nil
}

// refresh replays the index when it changed since the last call. Callers
// hold p.mu.
func (p *pkiStatus) refresh() error {
	st, err := os.Stat(filepath.Join(p.dir, ca.IndexFile))
	if err != nil {
		return fmt.Errorf("enroll_pki %s: %w", p.dir, err)
	}
	if p.byCN != nil && os.SameFile(st, p.seen) && st.Size() == p.seen.Size() && st.ModTime().Equal(p.seen.ModTime()) {
		return nil
	}
	entries, err := p.ca.List()
	if err != nil {
		return fmt.Errorf("enroll_pki %s: %w", p.dir, err)
	}
	byCN := make(map[string][]ca.Entry, len(entries))
	for _, e := range entries {
		byCN[e.CommonName] = append(byCN[e.CommonName], e)
	}
	p.byCN, p.seen = byCN, st
	return nil
}

// certState is the state of a CN's certificates (oldest first) at now:
// valid when one of them is the current, usable certificate of its name;
// otherwise the state of the newest: revoked, expired, not yet valid, or
// superseded (a renewal replaced it, whether or not its grace still runs).
func certState(entries []ca.Entry, now time.Time) string {
	if len(entries) == 0 {
		return CertNone
	}
	for _, e := range entries {
		if e.Current && !e.Revoked && !e.Expired(now) && !now.Before(e.NotBefore) {
			return CertValid
		}
	}
	e := entries[len(entries)-1]
	switch {
	case e.Revoked:
		return CertRevoked
	case e.Expired(now):
		return CertExpired
	case now.Before(e.NotBefore):
		return CertNotYet
	}
	return CertSuperseded
}
