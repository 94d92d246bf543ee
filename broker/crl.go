package broker

import (
	"bytes"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"mqtls/internal/fileio"
)

// crlChecker holds the CRLs of one listener's crlfile and answers, during
// each TLS handshake, whether a verified chain holds a revoked certificate.
//
// # Rules
//
//   - The file may hold several PEM CRLs (the issuing CA's and the root's).
//     Each must be signed by a certificate of the listener's cafile.
//   - The leaf's issuer must have a CRL in the file, or the handshake fails
//     (a missing CRL must not silently turn revocation off). Higher links of
//     the chain are checked when their issuer's CRL is present.
//   - The file is reloaded when it changes and on SIGHUP; a file that fails
//     to load is logged and the previous CRLs stay in force.
//   - An expired CRL (nextUpdate in the past) is logged as an error at load
//     and every hour, and stays in force: revoked certificates are still
//     refused and others still accepted. Mosquitto instead refuses every
//     client, which turns a late CRL refresh into an outage.
type crlChecker struct {
	path string
	cas  []*x509.Certificate
	log  *slog.Logger
	cur  atomic.Pointer[crlSet]

	mu      sync.Mutex
	stamp   fileStamp
	expWarn time.Time
}

type fileStamp struct {
	mod  time.Time
	size int64
}

type crlSet struct {
	// byIssuer maps an issuer's raw subject to its CRL.
	byIssuer map[string]*x509.RevocationList
	// revoked maps an issuer's raw subject to its revoked serials.
	revoked map[string]map[string]bool
}

func newCRLChecker(path string, cas []*x509.Certificate, log *slog.Logger) (*crlChecker, error) {
	c := &crlChecker{path: path, cas: cas, log: log}
	if _, err := c.reload(true); err != nil {
		return nil, err
	}
	return c, nil
}

// reload reads the file when it changed (or always with force) and reports
// whether new CRLs are now in force.
func (c *crlChecker) reload(force bool) (bool, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fi, err := os.Stat(c.path)
	if err != nil {
		return false, fmt.Errorf("crlfile: %w", err)
	}
	st := fileStamp{mod: fi.ModTime(), size: fi.Size()}
	if !force && st == c.stamp {
		c.warnExpired(false)
		return false, nil
	}
	c.stamp = st
	b, err := readOperatorFile(c.path, maxPEMFile)
	if err != nil {
		return false, fmt.Errorf("crlfile: %w", err)
	}
	set, err := parseCRLs(b, c.cas)
	if err != nil {
		return false, fmt.Errorf("crlfile %s: %w", c.path, err)
	}
	c.cur.Store(set)
	n := 0
	for _, r := range set.revoked {
		n += len(r)
	}
	c.log.Info(fmt.Sprintf("Loaded CRL file %s: %d CRL(s), %d revoked certificate(s).", c.path, len(set.byIssuer), n))
	c.warnExpired(true)
	return true, nil
}

// warnExpired logs expired CRLs at load and then once an hour.
func (c *crlChecker) warnExpired(now bool) {
	if !now && time.Since(c.expWarn) < time.Hour {
		return
	}
	set := c.cur.Load()
	for _, crl := range set.byIssuer {
		if !crl.NextUpdate.IsZero() && time.Now().After(crl.NextUpdate) {
			c.expWarn = time.Now()
			c.log.Error(fmt.Sprintf("CRL from %q in %s EXPIRED at %s: revocations in it are still enforced, but renew it now (mqtls ca crl or any revoke)",
				crl.Issuer.String(), c.path, crl.NextUpdate.UTC().Format(time.RFC3339)))
		}
	}
}

func parseCRLs(b []byte, cas []*x509.Certificate) (*crlSet, error) {
	set := &crlSet{byIssuer: map[string]*x509.RevocationList{}, revoked: map[string]map[string]bool{}}
	for _, der := range fileio.Blocks(b, "X509 CRL") {
		crl, err := x509.ParseRevocationList(der)
		if err != nil {
			return nil, err
		}
		var signer *x509.Certificate
		for _, ca := range cas {
			if bytes.Equal(ca.RawSubject, crl.RawIssuer) && crl.CheckSignatureFrom(ca) == nil {
				signer = ca
				break
			}
		}
		if signer == nil {
			return nil, fmt.Errorf("CRL from %q is not signed by a certificate in cafile", crl.Issuer.String())
		}
		key := string(crl.RawIssuer)
		if old, ok := set.byIssuer[key]; ok && old.Number != nil && crl.Number != nil && old.Number.Cmp(crl.Number) > 0 {
			continue // keep the newer CRL of the same issuer
		}
		set.byIssuer[key] = crl
		serials := map[string]bool{}
		for _, e := range crl.RevokedCertificateEntries {
			serials[e.SerialNumber.String()] = true
		}
		set.revoked[key] = serials
	}
	if len(set.byIssuer) == 0 {
		return nil, errors.New("holds no PEM CRL (\"-----BEGIN X509 CRL-----\")")
	}
	return set, nil
}

// check refuses a handshake whose verified chains hold a revoked certificate.
func (c *crlChecker) check(chains [][]*x509.Certificate) error {
	set := c.cur.Load()
	for _, chain := range chains {
		if err := set.checkChain(chain); err != nil {
			return err
		}
	}
	return nil
}

// revoked reports why cert (issued by the CA with raw subject issuer) is
// refused, or "" when it is not revoked. Used to kick live clients.
func (c *crlChecker) revokedReason(chain []*x509.Certificate) string {
	if err := c.cur.Load().checkChain(chain); err != nil {
		return err.Error()
	}
	return ""
}

func (s *crlSet) checkChain(chain []*x509.Certificate) error {
	for i := 0; i+1 < len(chain); i++ {
		cert, issuer := chain[i], chain[i+1]
		if _, ok := s.byIssuer[string(issuer.RawSubject)]; !ok {
			if i == 0 {
				return fmt.Errorf("no CRL from %s, the issuer of %s, in crlfile", issuer.Subject.String(), cert.Subject.String())
			}
			continue
		}
		if s.revoked[string(issuer.RawSubject)][cert.SerialNumber.String()] {
			return fmt.Errorf("certificate %s (serial %X) is revoked", cert.Subject.String(), cert.SerialNumber)
		}
	}
	return nil
}
