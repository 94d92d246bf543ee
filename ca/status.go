package ca

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	"mqtls/certs"
)

// CRLWarnDays: `ca show` and every revoke warn when crl.pem's nextUpdate is
// closer than this.
const CRLWarnDays = 7

// CRLInfo describes one CRL of crl.pem.
type CRLInfo struct {
	Issuer     string    `json:"issuer"`
	Number     string    `json:"number"`
	ThisUpdate time.Time `json:"this_update"`
	NextUpdate time.Time `json:"next_update"`
	Revoked    int       `json:"revoked"`
}

// Status is what `mqtls ca show` prints; its JSON form is the --json output.
type Status struct {
	Dir       string      `json:"dir"`
	Root      certs.Info  `json:"root"`
	Issuer    *certs.Info `json:"issuer,omitempty"`
	Encrypted bool        `json:"encrypted"`
	CRL       []CRLInfo   `json:"crl"`
	Issued    int         `json:"issued"`
	Current   int         `json:"current"`
	Revoked   int         `json:"revoked"`
	Expired   int         `json:"expired"`
	Warnings  []string    `json:"warnings,omitempty"`
	// Problems are the ways crl.pem and the index disagree (see
	// [CA.CheckCRL]): work an interrupted revoke or renew left undone,
	// which `mqtls ca crl` completes.
	Problems []string `json:"problems,omitempty"`
}

// Status reports the CA, its CRL and the index counts at now.
func (c *CA) Status(now time.Time) (Status, error) {
	entries, err := c.List()
	if err != nil {
		return Status{}, err
	}
	s := Status{Dir: c.dir, Root: certs.Inspect(c.Root), CRL: []CRLInfo{}}
	if c.HasIntermediate() {
		in := certs.Inspect(c.Issuer)
		s.Issuer = &in
	}
	if s.Encrypted, err = Encrypted(c.dir); err != nil {
		return s, err
	}
	for _, e := range entries {
		s.Issued++
		switch {
		case e.Revoked:
			s.Revoked++
		case e.Expired(now):
			s.Expired++
		case e.Current:
			s.Current++
		}
	}
	s.Warnings = append(s.Warnings, c.CRLWarnings(now)...)
	rep, err := c.CheckCRL(now)
	if err != nil {
		return s, err
	}
	s.Problems = rep.Problems()
	for _, ca := range c.Chain() {
		if ca.NotAfter.Sub(now) < 90*24*time.Hour {
			s.Warnings = append(s.Warnings, fmt.Sprintf("%s expires on %s", ca.Subject.CommonName, ca.NotAfter.Format(time.DateOnly)))
		}
	}
	if !s.Encrypted {
		s.Warnings = append(s.Warnings, "the CA keys are not encrypted: use this CA for development only")
	}
	crls, err := ReadCRLs(c.CRLPath())
	if err == nil {
		for _, l := range crls {
			s.CRL = append(s.CRL, CRLInfo{
				Issuer: l.Issuer.String(), Number: l.Number.String(),
				ThisUpdate: l.ThisUpdate.UTC(), NextUpdate: l.NextUpdate.UTC(), Revoked: len(l.RevokedCertificateEntries),
			})
		}
	}
	return s, nil
}

// CRLWarnings says when crl.pem is missing, expired or close to expiry.
func (c *CA) CRLWarnings(now time.Time) []string {
	crls, err := ReadCRLs(c.CRLPath())
	if err != nil {
		return []string{fmt.Sprintf("%v: run mqtls ca crl", err)}
	}
	var out []string
	for _, l := range crls {
		left := l.NextUpdate.Sub(now)
		switch {
		case left <= 0:
			out = append(out, fmt.Sprintf("the CRL of %s expired on %s: Mosquitto and other OpenSSL-based brokers refuse every client, an mqtls broker keeps enforcing its revocations; run mqtls ca crl now", l.Issuer.CommonName, l.NextUpdate.Format(time.RFC3339)))
		case left < CRLWarnDays*24*time.Hour:
			out = append(out, fmt.Sprintf("the CRL of %s expires in %d hours: run mqtls ca crl (e.g. from a daily cron job)", l.Issuer.CommonName, int(left.Hours())))
		}
	}
	return out
}

// Certificate states reported by [CA.Check].
const (
	StateValid    = "valid"
	StateRevoked  = "revoked"
	StateExpired  = "expired"
	StateNotYet   = "not yet valid"
	StateUnknown  = "unknown"
	StateNotOurCA = "not issued by this CA"
)

// CertState is a certificate's state as far as this CA knows it.
type CertState struct {
	// State is one of the State* constants.
	State string `json:"status"`
	// Entry is the index entry, when the certificate is in the index.
	Entry *Entry `json:"-"`
}

// Check tells whether cert was issued by this CA and, if so, whether it is
// valid, expired or revoked at now (by its serial in the index).
func (c *CA) Check(cert *x509.Certificate, now time.Time) (CertState, error) {
	if !bytes.Equal(cert.RawIssuer, c.Issuer.RawSubject) || cert.CheckSignatureFrom(c.Issuer) != nil {
		if bytes.Equal(cert.Raw, c.Issuer.Raw) || bytes.Equal(cert.Raw, c.Root.Raw) {
			return CertState{State: dateState(cert, now)}, nil
		}
		return CertState{State: StateNotOurCA}, nil
	}
	if err := c.idx.refresh(); err != nil {
		return CertState{}, err
	}
	e, ok := c.idx.findSerial(certs.SerialHex(cert))
	if !ok {
		return CertState{State: StateUnknown}, nil
	}
	st := CertState{State: dateState(cert, now), Entry: &e}
	if e.Revoked {
		st.State = StateRevoked
	}
	return st, nil
}

func dateState(cert *x509.Certificate, now time.Time) string {
	switch {
	case now.After(cert.NotAfter):
		return StateExpired
	case now.Before(cert.NotBefore):
		return StateNotYet
	}
	return StateValid
}
