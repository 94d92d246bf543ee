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

// Revocation is what [CA.Revoke] did.
type Revocation struct {
	// Entry is the certificate, revoked.
	Entry
	// Already: it was revoked before this call (by the index or by
	// crl.pem); Revoke only made sure that both say so.
	Already bool
	// Completed: it was one of the certificates Repair completed, so a run
	// cut short had left its revocation half done.
	Completed bool
	// Repair is what this call completed of runs cut short before it, this
	// certificate or others (see repair.go).
	Repair Repair
	// Pending are the certificates of the same name that a renewal had
	// left valid for a grace period: revoked with it.
	Pending []Entry
}

// Revoke revokes the certificate of a name (its newest) or of a serial (hex,
// colons and case ignored; a name wins over a serial that looks the same):
// crl.pem is regenerated with it, then the revocation is appended to the
// index. First it completes what runs cut short left undone (see [Repair]),
// so running it again after a crash finishes the work; a certificate
// already revoked is not an error.
func (c *CA) Revoke(nameOrSerial string, reason Reason) (Revocation, error) {
	return c.revoke(nameOrSerial, reason, false)
}

// Undo revokes the certificate of an enrollment that was undone (its
// dynsec client could not be saved) as cessationOfOperation and gives the
// use it took of its claim back: its undo line goes in one append with its
// revoke line, after crl.pem, so a cut before that leaves the certificate
// revoked (see repair.go) and the use taken (a claim is never overdrawn).
// Run again, it records the undo of a certificate already revoked.
func (c *CA) Undo(serial string) (Revocation, error) {
	return c.revoke(serial, CessationOfOperation, true)
}

func (c *CA) revoke(nameOrSerial string, reason Reason, undo bool) (Revocation, error) {
	if !c.CanSign() {
		return Revocation{}, ErrLocked
	}
	if _, ok := reasonNames[reason]; !ok {
		return Revocation{}, fmt.Errorf("unknown revocation reason %d", reason)
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return Revocation{}, err
	}
	var out Revocation
	err = c.idx.withLock(func(f *os.File) error {
		now := time.Now()
		rep, err := c.repairLocked(f, rootKey, now, false)
		out.Repair = rep
		if err != nil {
			return fmt.Errorf("complete an interrupted run: %w", err)
		}
		e, ok := c.idx.find(nameOrSerial)
		if !ok {
			return fmt.Errorf("%q: %w (see mqtls cert list)", nameOrSerial, ErrNotFound)
		}
		if e.Revoked {
			out.Entry, out.Already = e, true
			out.Completed = has(rep.Uncommitted, e.Serial) || has(rep.Unlisted, e.Serial) || has(rep.Superseded, e.Serial)
			if undo && !e.Undone {
				if err := c.idx.appendLines(f, []record{{Op: opUndo, Serial: e.Serial, Time: now.UTC()}}); err != nil {
					return fmt.Errorf("undo the enrollment of %s: %w", e.Name, err)
				}
				out.Entry, _ = c.idx.findSerial(e.Serial)
			}
			return nil
		}
		recs := []record{{Op: opRevoke, Serial: e.Serial, Reason: reason.String(), Time: now.UTC()}}
		if undo {
			recs = append(recs, record{Op: opUndo, Serial: e.Serial, Time: now.UTC()})
		}
		if e.Current {
			// The certificates its renewal left in their grace go with the
			// current one: a lost device must not stay online on the
			// certificate it was renewed from.
			for _, p := range c.idx.pendingOf(e.Name, now) {
				recs = append(recs, record{Op: opRevoke, Serial: p.Serial, Reason: reason.String(), Time: now.UTC()})
				out.Pending = append(out.Pending, p)
			}
		}
		if err := c.revokeLocked(f, rootKey, now, recs); err != nil {
			return fmt.Errorf("revoke %s: %w", e.Name, err)
		}
		out.Entry, _ = c.idx.findSerial(e.Serial)
		return nil
	})
	return out, err
}

// GenerateCRL re-signs crl.pem with a fresh nextUpdate, after completing
// what runs cut short left undone (see [Repair]), which it returns.
func (c *CA) GenerateCRL() (Repair, error) {
	if !c.CanSign() {
		return Repair{}, ErrLocked
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return Repair{}, err
	}
	var rep Repair
	err = c.idx.withLock(func(f *os.File) error {
		var err error
		rep, err = c.repairLocked(f, rootKey, time.Now(), true)
		return err
	})
	return rep, err
}

// List returns every certificate of the index, oldest first, after reading
// what other processes appended; one crl.pem lists is revoked (see settle).
func (c *CA) List() ([]Entry, error) {
	if err := c.idx.refresh(); err != nil {
		return nil, err
	}
	es := c.idx.snapshot()
	c.settle(es)
	return es, nil
}

// findSettled is find with what crl.pem lists (see settle).
func (c *CA) findSettled(nameOrSerial string) (Entry, bool) {
	e, ok := c.idx.find(nameOrSerial)
	if ok {
		es := []Entry{e}
		c.settle(es)
		e = es[0]
	}
	return e, ok
}

// Lookup finds the newest certificate of a name, or a certificate by serial.
func (c *CA) Lookup(nameOrSerial string) (Entry, bool, error) {
	if err := c.idx.refresh(); err != nil {
		return Entry{}, false, err
	}
	e, ok := c.findSettled(nameOrSerial)
	return e, ok, nil
}

// IsRevoked reports whether the certificate with this serial (hex) is
// revoked according to the index or crl.pem (see settle).
func (c *CA) IsRevoked(serial string) (bool, error) {
	if err := c.idx.refresh(); err != nil {
		return false, err
	}
	e, ok := c.idx.findSerial(serial)
	if ok {
		es := []Entry{e}
		c.settle(es)
		e = es[0]
	}
	return ok && e.Revoked, nil
}
