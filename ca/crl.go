package ca

import (
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"mqtls/internal/fileio"
)

// CRLDays is the life of a CRL (its nextUpdate). Mosquitto refuses every
// client once it passes, so `mqtls ca crl` must run before that.
const CRLDays = 30

// writeCRL signs and writes crl.pem from the index plus pending, revoke
// records not yet appended (a revocation reaches crl.pem before the index:
// see repair.go). A revocation crl.pem lists that the index does not hold
// is kept: a CRL written here never drops one. Callers hold the index lock,
// so two processes never write CRLs out of order.
func (c *CA) writeCRL(rootKey crypto.Signer, now time.Time, pending []record) error {
	var entries []x509.RevocationListEntry
	for _, e := range c.idx.revokedEntries(now) {
		entries = append(entries, crlEntry(e.Serial, e.RevokedAt, e.Reason))
	}
	for _, r := range pending {
		entries = append(entries, crlEntry(r.Serial, r.Time, r.Reason))
	}
	var prev *big.Int
	if cur, err := c.currentCRL(); err == nil {
		entries = append(entries, c.idx.unrecorded(cur, pending)...)
		prev = cur.Number // the root's CRL, when there is one, has the same
	} else {
		prev = previousCRLNumber(c.CRLPath())
	}
	data, err := c.crlPEM(rootKey, now, prev, entries)
	if err != nil {
		return err
	}
	return fileio.WriteFile(c.CRLPath(), data, 0o644)
}

func crlEntry(serial string, at time.Time, reason string) x509.RevocationListEntry {
	s, _ := new(big.Int).SetString(serial, 16)
	return x509.RevocationListEntry{SerialNumber: s, RevocationTime: at, ReasonCode: reasonCode(reason)}
}

// crlPEM signs the issuing CA's CRL of entries and, with an intermediate,
// the root's (empty) CRL for it. The CRL number grows with the clock and
// always past the previous one.
func (c *CA) crlPEM(rootKey crypto.Signer, now time.Time, prev *big.Int, entries []x509.RevocationListEntry) ([]byte, error) {
	if rootKey == nil {
		rootKey = c.rootKey
	}
	num := big.NewInt(now.UnixNano())
	if prev != nil && num.Cmp(prev) <= 0 {
		num = new(big.Int).Add(prev, big.NewInt(1))
	}
	tmpl := &x509.RevocationList{
		Number:                    num,
		ThisUpdate:                now.Add(-time.Minute).UTC(),
		NextUpdate:                now.AddDate(0, 0, CRLDays).UTC(),
		RevokedCertificateEntries: entries,
	}
	der, err := x509.CreateRevocationList(rand.Reader, tmpl, c.Issuer, c.issuerKey)
	if err != nil {
		return nil, fmt.Errorf("sign CRL: %w", err)
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})
	if c.HasIntermediate() {
		if rootKey == nil {
			return nil, ErrLocked
		}
		rootTmpl := &x509.RevocationList{Number: num, ThisUpdate: tmpl.ThisUpdate, NextUpdate: tmpl.NextUpdate}
		der, err := x509.CreateRevocationList(rand.Reader, rootTmpl, c.Root, rootKey)
		if err != nil {
			return nil, fmt.Errorf("sign root CRL: %w", err)
		}
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "X509 CRL", Bytes: der})...)
	}
	return out, nil
}

// previousCRLNumber is the highest CRL number in a crl.pem, or nil.
func previousCRLNumber(path string) *big.Int {
	crls, err := ReadCRLs(path)
	if err != nil {
		return nil
	}
	var max *big.Int
	for _, l := range crls {
		if l.Number != nil && (max == nil || l.Number.Cmp(max) > 0) {
			max = l.Number
		}
	}
	return max
}

// ReadCRLs parses every CRL of a PEM file (crl.pem holds one per CA).
func ReadCRLs(path string) ([]*x509.RevocationList, error) {
	data, err := fileio.ReadFile(path, fileio.MaxPEM, "a CRL")
	if err != nil {
		return nil, fmt.Errorf("read CRL: %w", err)
	}
	var out []*x509.RevocationList
	for _, der := range fileio.Blocks(data, "X509 CRL") {
		l, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, fmt.Errorf("parse CRL %s: %w", path, err)
		}
		out = append(out, l)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CRL in %s", path)
	}
	return out, nil
}
