package ca

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"time"
)

// Reason is an RFC 5280 CRL reason code.
type Reason int

// The reasons mqtls accepts. certificateHold and removeFromCRL are left out:
// a revocation here is final.
const (
	Unspecified          Reason = 0
	KeyCompromise        Reason = 1
	CACompromise         Reason = 2
	AffiliationChanged   Reason = 3
	Superseded           Reason = 4
	CessationOfOperation Reason = 5
	PrivilegeWithdrawn   Reason = 9
)

var reasonNames = map[Reason]string{
	Unspecified:          "unspecified",
	KeyCompromise:        "keyCompromise",
	CACompromise:         "cACompromise",
	AffiliationChanged:   "affiliationChanged",
	Superseded:           "superseded",
	CessationOfOperation: "cessationOfOperation",
	PrivilegeWithdrawn:   "privilegeWithdrawn",
}

func (r Reason) String() string {
	if s, ok := reasonNames[r]; ok {
		return s
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// ParseReason reads a --reason value (the RFC 5280 names, any case); "" is
// unspecified.
func ParseReason(s string) (Reason, error) {
	if s == "" {
		return Unspecified, nil
	}
	for r, n := range reasonNames {
		if strings.EqualFold(n, s) {
			return r, nil
		}
	}
	var names []string
	for _, n := range reasonNames {
		names = append(names, n)
	}
	sort.Strings(names)
	return 0, fmt.Errorf("unknown revocation reason %q: use one of %s", s, strings.Join(names, ", "))
}

func reasonCode(name string) int {
	for r, n := range reasonNames {
		if n == name {
			return int(r)
		}
	}
	return 0
}

// Revoke revokes the certificate of a name (its newest) or of a serial (hex,
// colons and case ignored; a name wins over a serial that looks the same),
// appends the revocation to the index and regenerates crl.pem at once. It
// returns the revoked entry.
func (c *CA) Revoke(nameOrSerial string, reason Reason) (Entry, error) {
	if !c.CanSign() {
		return Entry{}, ErrLocked
	}
	if _, ok := reasonNames[reason]; !ok {
		return Entry{}, fmt.Errorf("unknown revocation reason %d", reason)
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return Entry{}, err
	}
	var out Entry
	err = c.idx.withLock(func(f *os.File) error {
		e, ok := c.idx.find(nameOrSerial)
		if !ok {
			return fmt.Errorf("%q: %w (see mqtls cert list)", nameOrSerial, ErrNotFound)
		}
		if e.Revoked {
			return fmt.Errorf("%s (serial %s) is %w since %s", e.Name, e.Serial, ErrRevoked, e.RevokedAt.Format(time.RFC3339))
		}
		now := time.Now()
		rec := record{Op: opRevoke, Serial: e.Serial, Reason: reason.String(), Time: now.UTC()}
		if err := c.idx.appendLines(f, []record{rec}); err != nil {
			return err
		}
		if err := c.writeCRL(rootKey, now); err != nil {
			return fmt.Errorf("revoked %s in the index but could not write the CRL (run mqtls ca crl): %w", e.Name, err)
		}
		out, _ = c.idx.findSerial(e.Serial)
		return nil
	})
	return out, err
}

// GenerateCRL re-signs crl.pem with a fresh nextUpdate.
func (c *CA) GenerateCRL() error {
	if !c.CanSign() {
		return ErrLocked
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return err
	}
	return c.idx.withLock(func(*os.File) error { return c.writeCRL(rootKey, time.Now()) })
}

// List returns every certificate of the index, oldest first, after reading
// what other processes appended.
func (c *CA) List() ([]Entry, error) {
	if err := c.idx.refresh(); err != nil {
		return nil, err
	}
	return c.idx.snapshot(), nil
}

// Lookup finds the newest certificate of a name, or a certificate by serial.
func (c *CA) Lookup(nameOrSerial string) (Entry, bool, error) {
	if err := c.idx.refresh(); err != nil {
		return Entry{}, false, err
	}
	e, ok := c.idx.find(nameOrSerial)
	return e, ok, nil
}

// IsRevoked reports whether the certificate with this serial (hex) is
// revoked according to the index.
func (c *CA) IsRevoked(serial string) (bool, error) {
	if err := c.idx.refresh(); err != nil {
		return false, err
	}
	e, ok := c.idx.findSerial(serial)
	return ok && e.Revoked, nil
}
