package ca

// Crash consistency of the index and crl.pem.
//
// A revocation is two writes: crl.pem (replaced atomically) and the revoke
// line of the index, in that order. So at every instant a certificate is
// either valid in both or listed in crl.pem: a broker never admits a
// certificate that the index calls revoked. The revoke line is the commit.
// (Writing the index first, as an intent, would leave a window in which the
// index calls a certificate revoked that every broker admits.) A revoke cut
// between the two leaves the index calling valid what crl.pem lists: the
// index's readers (List, Lookup, IsRevoked, Claim, Current) take crl.pem's
// word for it, so nothing shows that certificate valid or hands it out
// again, and the next Open (a command or broker holding the keys) or
// writer appends the missing line.
//
// A renewal is three: the new certificate's issue line, crl.pem listing the
// old certificate, the old certificate's revoke line. A renewal with a grace
// is one append of two lines: the new certificate's issue and the old one's
// supersede (valid until the grace ends). A certificate that is neither
// current, revoked nor in its grace is therefore the old half of a renewal
// cut short; one whose grace has ended is due for revocation.
//
// Every writer that signs CRLs (Revoke, Renew, GenerateCRL) first compares
// the two, under the index lock, and completes what a cut run left undone:
// a certificate crl.pem lists but the index does not record as revoked gets
// its revoke line; a certificate neither current nor revoked is revoked as
// superseded (crl.pem first); a revocation of the index that crl.pem lacks,
// or a crl.pem that is missing, damaged or not signed by this CA, makes it
// write crl.pem again. The comparison needs no key: it parses crl.pem and
// walks the index once, so `mqtls ca show` runs it too ([CA.CheckCRL]).

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"fmt"
	"math/big"
	"os"
	"strings"
	"sync"
	"time"
)

// Repair is what runs cut short (a kill, a crash, a power cut) left undone
// between the index and crl.pem. [CA.CheckCRL] reports it; [CA.Revoke],
// [CA.Renew] and [CA.GenerateCRL] do it first and report what they did.
type Repair struct {
	// Uncommitted are listed in crl.pem but not revoked in the index: a
	// revoke cut after it wrote the CRL. Their revoke lines are appended,
	// with the time and reason of crl.pem.
	Uncommitted []Entry
	// Superseded were replaced by a renewal cut before it revoked them: they
	// are neither current nor revoked. They are revoked as superseded.
	Superseded []Entry
	// Unlisted are revoked in the index but missing from crl.pem, so a
	// broker still admits them: crl.pem is written again.
	Unlisted []Entry
	// BadCRL says why crl.pem could not be read as this CA's CRL (missing,
	// damaged, signed by another CA); it is written again.
	BadCRL string
	// GraceEnded were replaced by a renewal with a grace period that has
	// ended: they are revoked as superseded.
	GraceEnded []Entry
}

// Empty reports whether there is nothing to repair.
func (r Repair) Empty() bool {
	return len(r.Uncommitted) == 0 && len(r.Superseded) == 0 && len(r.Unlisted) == 0 && r.BadCRL == "" && len(r.GraceEnded) == 0
}

// maxListed bounds the certificates a message names; the rest are counted.
const maxListed = 5

// Problems describes r as found, one line each (`mqtls ca show`).
func (r Repair) Problems() []string {
	var out []string
	if r.BadCRL != "" {
		out = append(out, r.BadCRL+": brokers that load it refuse every client or admit revoked ones")
	}
	if n := len(r.Unlisted); n > 0 && r.BadCRL == "" {
		out = append(out, fmt.Sprintf("crl.pem does not list %s, revoked in the index: brokers still admit %s", names(r.Unlisted), plural(n, "it", "them")))
	}
	if n := len(r.Uncommitted); n > 0 {
		out = append(out, fmt.Sprintf("crl.pem lists %s, whose revocation the index does not record (an interrupted revoke)", names(r.Uncommitted)))
	}
	if n := len(r.Superseded); n > 0 {
		out = append(out, fmt.Sprintf("%s %s replaced by a renewal but not revoked (an interrupted renewal)", names(r.Superseded), plural(n, "was", "were")))
	}
	if n := len(r.GraceEnded); n > 0 {
		out = append(out, fmt.Sprintf("the renewal grace of %s ended: mqtls ca crl revokes %s", names(r.GraceEnded), plural(n, "it", "them")))
	}
	return out
}

// Done describes r as completed, one line each (the output of the command
// that repaired it).
func (r Repair) Done() []string {
	var out []string
	if n := len(r.Uncommitted); n > 0 {
		out = append(out, fmt.Sprintf("completed the interrupted revocation of %s: crl.pem listed %s, the index records it now", names(r.Uncommitted), plural(n, "it", "them")))
	}
	if n := len(r.Superseded); n > 0 {
		out = append(out, fmt.Sprintf("completed the interrupted renewal of %s: revoked as superseded, crl.pem lists %s", names(r.Superseded), plural(n, "it", "them")))
	}
	if n := len(r.GraceEnded); n > 0 {
		out = append(out, fmt.Sprintf("the renewal grace of %s ended: revoked as superseded, crl.pem lists %s", names(r.GraceEnded), plural(n, "it", "them")))
	}
	switch {
	case r.BadCRL != "":
		out = append(out, r.BadCRL+": wrote it again from the index")
	case len(r.Unlisted) > 0:
		out = append(out, fmt.Sprintf("crl.pem did not list %s, revoked in the index: it does now", names(r.Unlisted)))
	}
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// names is "DSN000001 (serial 5F3A...)" for a few entries and a count for
// the rest.
func names(es []Entry) string {
	var parts []string
	for i, e := range es {
		if i == maxListed {
			parts = append(parts, fmt.Sprintf("%d more", len(es)-maxListed))
			break
		}
		parts = append(parts, fmt.Sprintf("%s (serial %s)", e.Name, e.Serial))
	}
	return strings.Join(parts, ", ")
}

// has reports whether serial is among es.
func has(es []Entry, serial string) bool {
	for _, e := range es {
		if e.Serial == serial {
			return true
		}
	}
	return false
}

// CheckCRL compares crl.pem with the index at now, without keys, and
// returns what a writer would repair.
func (c *CA) CheckCRL(now time.Time) (Repair, error) {
	if err := c.idx.refresh(); err != nil {
		return Repair{}, err
	}
	return c.drift(now), nil
}

// crlCache keeps the last crl.pem parsed, with the file's identity: crl.pem
// is only ever replaced by a rename (a new inode), so a revoke that checks
// it and then writes a new one parses it once, not three times.
type crlCache struct {
	mu  sync.Mutex
	st  os.FileInfo
	crl *x509.RevocationList
	// listed are the serials of listedOf, the last CRL listedByCRL read.
	listed   map[string]x509.RevocationListEntry
	listedOf *x509.RevocationList
}

// listedByCRL returns the entries of crl.pem's current CRL by serial, or
// nil when crl.pem cannot be read as this CA's (CheckCRL reports that).
func (c *CA) listedByCRL() map[string]x509.RevocationListEntry {
	cur, err := c.currentCRL()
	if err != nil {
		return nil
	}
	c.crlc.mu.Lock()
	defer c.crlc.mu.Unlock()
	if c.crlc.listedOf != cur {
		m := make(map[string]x509.RevocationListEntry, len(cur.RevokedCertificateEntries))
		for _, e := range cur.RevokedCertificateEntries {
			m[serialKey(e.SerialNumber)] = e
		}
		c.crlc.listed, c.crlc.listedOf = m, cur
	}
	return c.crlc.listed
}

// settle marks revoked, in entries read from the index, the certificates
// crl.pem lists that the index does not record as revoked: a revoke cut
// after it replaced crl.pem and before its index line. Every broker refuses
// them already, so every reader of the index says so too (cert list, a
// claim check, an enrollment's retry, IsRevoked); the next [Open] or writer
// that signs CRLs appends the missing line. Not current any more, they
// leave a name without a current certificate, as a completed revoke does.
func (c *CA) settle(es []Entry) {
	var listed map[string]x509.RevocationListEntry
	for i := range es {
		if es[i].Revoked {
			continue
		}
		if listed == nil {
			if listed = c.listedByCRL(); listed == nil {
				return
			}
		}
		if l, ok := listed[es[i].Serial]; ok {
			es[i].Revoked, es[i].Current = true, false
			es[i].RevokedAt, es[i].Reason = l.RevocationTime, Reason(l.ReasonCode).String()
		}
	}
}

// recordCRL appends the revoke lines of the revocations crl.pem lists and
// the index lacks (see settle); Open runs it, so that a revoke cut short is
// complete in both files on the next run of a command or broker that holds
// the keys. It takes the lock only when there is such a line to write.
func (c *CA) recordCRL() (Repair, error) {
	if len(c.drift(time.Now()).Uncommitted) == 0 {
		return Repair{}, nil
	}
	var r Repair
	err := c.idx.withLock(func(f *os.File) error {
		r = Repair{Uncommitted: c.drift(time.Now()).Uncommitted}
		return c.recordUncommitted(f, r)
	})
	return r, err
}

// recordUncommitted appends the revoke lines of r.Uncommitted, with the
// time and reason crl.pem gives them. Callers hold the index lock.
func (c *CA) recordUncommitted(f *os.File, r Repair) error {
	if len(r.Uncommitted) == 0 {
		return nil
	}
	recs := make([]record, len(r.Uncommitted))
	for i, e := range r.Uncommitted {
		recs[i] = record{Op: opRevoke, Serial: e.Serial, Reason: e.Reason, Time: e.RevokedAt.UTC()}
	}
	if err := c.idx.appendLines(f, recs); err != nil {
		return fmt.Errorf("record the revocations crl.pem lists: %w", err)
	}
	return nil
}

// currentCRL returns the issuing CA's newest CRL in crl.pem, checking that
// crl.pem also holds the root's CRL when there is an intermediate (a
// broker checking the whole chain needs both).
func (c *CA) currentCRL() (*x509.RevocationList, error) {
	st, statErr := os.Stat(c.CRLPath())
	if statErr == nil {
		c.crlc.mu.Lock()
		oldSt, oldCRL := c.crlc.st, c.crlc.crl
		c.crlc.mu.Unlock()
		if oldSt != nil && os.SameFile(st, oldSt) && st.Size() == oldSt.Size() && st.ModTime().Equal(oldSt.ModTime()) {
			return oldCRL, nil
		}
	}
	crl, err := c.parseCurrentCRL()
	if err == nil && statErr == nil {
		// Stat came before the read: a file replaced in between is
		// newer than st and is parsed again next time.
		c.crlc.mu.Lock()
		c.crlc.st, c.crlc.crl = st, crl
		c.crlc.mu.Unlock()
	}
	return crl, err
}

func (c *CA) parseCurrentCRL() (*x509.RevocationList, error) {
	crls, err := ReadCRLs(c.CRLPath())
	if err != nil {
		return nil, err
	}
	var leaf *x509.RevocationList
	rootOK := !c.HasIntermediate()
	for _, l := range crls {
		switch {
		case bytes.Equal(l.RawIssuer, c.Issuer.RawSubject) && l.CheckSignatureFrom(c.Issuer) == nil:
			if leaf == nil || newer(l, leaf) {
				leaf = l
			}
		case c.HasIntermediate() && bytes.Equal(l.RawIssuer, c.Root.RawSubject) && l.CheckSignatureFrom(c.Root) == nil:
			rootOK = true
		}
	}
	if leaf == nil {
		return nil, fmt.Errorf("%s holds no CRL signed by %s", c.CRLPath(), c.Issuer.Subject.CommonName)
	}
	if !rootOK {
		return nil, fmt.Errorf("%s holds no CRL signed by %s", c.CRLPath(), c.Root.Subject.CommonName)
	}
	return leaf, nil
}

func newer(a, b *x509.RevocationList) bool {
	if a.Number == nil || b.Number == nil {
		return a.ThisUpdate.After(b.ThisUpdate)
	}
	return a.Number.Cmp(b.Number) > 0
}

func serialKey(n *big.Int) string { return strings.ToUpper(n.Text(16)) }

// drift compares crl.pem with the replayed index.
func (c *CA) drift(now time.Time) Repair {
	var r Repair
	cur, err := c.currentCRL()
	var listed map[string]x509.RevocationListEntry
	if err != nil {
		r.BadCRL = err.Error()
	} else {
		listed = make(map[string]x509.RevocationListEntry, len(cur.RevokedCertificateEntries))
		for _, e := range cur.RevokedCertificateEntries {
			listed[serialKey(e.SerialNumber)] = e
		}
	}
	x := c.idx
	x.mu.Lock()
	defer x.mu.Unlock()
	for _, e := range x.entries {
		l, ok := listed[e.Serial]
		switch {
		case ok && !e.Revoked:
			u := *e
			u.RevokedAt, u.Reason = l.RevocationTime, Reason(l.ReasonCode).String()
			r.Uncommitted = append(r.Uncommitted, u)
		case ok, e.Expired(now):
		case e.Revoked:
			r.Unlisted = append(r.Unlisted, *e)
		case e.Current, e.Pending(now):
		case !e.GraceUntil.IsZero():
			r.GraceEnded = append(r.GraceEnded, *e)
		default:
			r.Superseded = append(r.Superseded, *e)
		}
	}
	return r
}

// unrecorded returns the entries of crl that neither the index's
// revocations nor pending hold: serials the index does not know (an index
// restored from an older backup) or has not recorded as revoked. They go
// into every new CRL, so a revocation is never dropped.
func (x *index) unrecorded(crl *x509.RevocationList, pending []record) []x509.RevocationListEntry {
	x.mu.Lock()
	defer x.mu.Unlock()
	var out []x509.RevocationListEntry
	for _, l := range crl.RevokedCertificateEntries {
		s := serialKey(l.SerialNumber)
		if e := x.bySerial[s]; e != nil && e.Revoked {
			continue
		}
		inPending := false
		for _, p := range pending {
			inPending = inPending || p.Serial == s
		}
		if !inPending {
			out = append(out, l)
		}
	}
	return out
}

// repairLocked does the work of [Repair] found now, and writes crl.pem
// again when force is set even if nothing is wrong. Callers hold the index
// lock (f is the index open for appending).
func (c *CA) repairLocked(f *os.File, rootKey crypto.Signer, now time.Time, force bool) (Repair, error) {
	r := c.drift(now)
	// crl.pem lists the uncommitted already: only the index lags.
	if err := c.recordUncommitted(f, r); err != nil {
		return r, err
	}
	var recs []record
	for _, e := range append(append([]Entry(nil), r.Superseded...), r.GraceEnded...) {
		recs = append(recs, record{Op: opRevoke, Serial: e.Serial, Reason: Superseded.String(), Time: now.UTC()})
	}
	if len(recs) > 0 || len(r.Unlisted) > 0 || r.BadCRL != "" || force {
		if err := c.revokeLocked(f, rootKey, now, recs); err != nil {
			return r, err
		}
	}
	return r, nil
}

// revokeLocked revokes by recs in the safe order: crl.pem listing them
// first, then their index lines (in one append with the undo lines among
// recs, which crl.pem does not list). With no recs it writes crl.pem again.
// Callers hold the index lock.
func (c *CA) revokeLocked(f *os.File, rootKey crypto.Signer, now time.Time, recs []record) error {
	var revokes []record
	for _, r := range recs {
		if r.Op == opRevoke {
			revokes = append(revokes, r)
		}
	}
	if err := c.writeCRL(rootKey, now, revokes); err != nil {
		return fmt.Errorf("write the CRL: %w", err)
	}
	if err := c.idx.appendLines(f, recs); err != nil {
		return fmt.Errorf("crl.pem lists the revocation but the index could not record it (the next mqtls cert revoke or mqtls ca crl records it): %w", err)
	}
	return nil
}
