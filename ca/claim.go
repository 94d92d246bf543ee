package ca

import (
	"mqtls/certs"
)

// ClaimOptions are the choices of `mqtls cert claim`.
type ClaimOptions struct {
	// Days of validity; 0 is certs.DefaultClaimDays.
	Days int
	// MaxUses bounds the devices that may enroll with the claim; 0 is no
	// limit.
	MaxUses int
	// KeyType; "" is EC P-256.
	KeyType certs.KeyType
}

// IssueClaim issues the claim certificate of name (CN "claim:NAME", the
// claim extension, clientAuth) and writes issued/claim-NAME.crt and .key.
// Its uses are counted in the index: every device certificate enrolled
// with it records the claim's serial.
func (c *CA) IssueClaim(name string, o ClaimOptions) (*certs.Issued, error) {
	return c.Issue(certs.Request{Kind: certs.Claim, Name: name, Days: o.Days, MaxUses: o.MaxUses, KeyType: o.KeyType})
}

// Claim returns the index entry of a claim certificate by serial (hex) and
// the number of ids enrolled with it so far, re-reading
// what other processes appended. ok is false for a serial the index does
// not hold or that is not a claim's.
func (c *CA) Claim(serial string) (e Entry, uses int, ok bool, err error) {
	if err := c.idx.refresh(); err != nil {
		return Entry{}, 0, false, err
	}
	e, ok = c.idx.findSerial(serial)
	if !ok || e.Kind != certs.Claim {
		return Entry{}, 0, false, nil
	}
	es := []Entry{e}
	c.settle(es)
	e = es[0]
	c.idx.mu.Lock()
	uses = c.idx.uses[e.Serial]
	c.idx.mu.Unlock()
	return e, uses, true, nil
}
