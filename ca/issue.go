package ca

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"sync"
	"time"

	"go.step.sm/crypto/x509util"

	"mqtls/certs"
)

// ClientOptions are the choices of `mqtls cert client`.
type ClientOptions struct {
	// Org is the subject's O= (optional).
	Org string
	// Days of validity; 0 is certs.DefaultClientDays.
	Days int
	// KeyType; "" is EC P-256.
	KeyType certs.KeyType
}

// ServerOptions are the choices of `mqtls cert server`.
type ServerOptions struct {
	// Name in the PKI folder; "" is "server".
	Name string
	// Hosts and IPs become SANs; the first host is the CN.
	Hosts []string
	IPs   []net.IP
	// Org is the subject's O= (optional).
	Org string
	// Days of validity; 0 is certs.DefaultServerDays.
	Days int
	// KeyType; "" is EC P-256.
	KeyType certs.KeyType
}

// IssueClient issues a device (clientAuth) certificate with CN = id and
// writes issued/ID.crt and issued/ID.key.
func (c *CA) IssueClient(id string, o ClientOptions) (*certs.Issued, error) {
	return c.Issue(certs.Request{Kind: certs.Client, Name: id, Org: o.Org, Days: o.Days, KeyType: o.KeyType})
}

// IssueServer issues a broker (serverAuth) certificate and writes
// issued/NAME.crt and issued/NAME.key.
func (c *CA) IssueServer(o ServerOptions) (*certs.Issued, error) {
	return c.Issue(certs.Request{Kind: certs.Server, Name: o.Name, Hosts: o.Hosts, IPs: o.IPs, Org: o.Org, Days: o.Days, KeyType: o.KeyType})
}

// Issue issues the certificate req describes: a new key, the certificate,
// its index line (appended and synced first), then issued/NAME.crt and
// issued/NAME.key. It fails with ErrExists when the name has a current
// certificate, unless that certificate is the index line of an issue cut
// before its files were written (no process is writing them and they are
// not there): that one cannot be used, so it is revoked (superseded) and
// replaced, and a re-run of an interrupted issue completes it. Safe for
// concurrent use. It is [CA.Prepare] and [CA.Commit] of one request.
func (c *CA) Issue(req certs.Request) (*certs.Issued, error) {
	p, err := c.Prepare(req)
	if err != nil {
		return nil, err
	}
	if err := c.Commit([]*Prepared{p})[0]; err != nil {
		return nil, err
	}
	return p.Issued(), nil
}

// Prepared is a certificate signed and not yet recorded: nothing of it is
// written, and its name is reserved in this process (a second Prepare of
// the name fails) until [CA.Commit] or [Prepared.Release].
type Prepared struct {
	c    *CA
	iss  *certs.Issued
	rec  record
	once sync.Once
}

// Issued is the certificate (and the key made for it, if any).
func (p *Prepared) Issued() *certs.Issued { return p.iss }

// Release gives up a prepared certificate that will not be committed;
// after Commit it does nothing.
func (p *Prepared) Release() { p.once.Do(func() { p.c.idx.release(p.rec.Name) }) }

// Prepare makes the key (unless req has a public key) and signs the
// certificate of req, as [CA.Issue] does, but writes nothing: the CPU
// part of an issue, which callers that group concurrent requests into one
// [CA.Commit] do before they wait for the group. It fails with ErrExists
// as Issue does (and replaces an unfinished issue as Issue does).
func (c *CA) Prepare(req certs.Request) (*Prepared, error) {
	if !c.CanSign() {
		return nil, ErrLocked
	}
	req, err := req.Normalize()
	if err != nil {
		return nil, err
	}
	err = c.idx.reserve(req.Name)
	if errors.Is(err, ErrExists) && c.replaceUnfinished(req.Name) == nil {
		err = c.idx.reserve(req.Name)
	}
	if err != nil {
		return nil, err
	}
	iss, rec, err := c.sign(req, time.Now())
	if err != nil {
		c.idx.release(req.Name)
		return nil, err
	}
	return &Prepared{c: c, iss: iss, rec: rec}, nil
}

// Commit records prepared certificates of this CA and writes their files,
// as [CA.Issue] does for one: the index lines of all of them in one append
// and one sync (grouped with concurrent commits), then each one's files.
// errs[i] is ps[i]'s result; a certificate whose name another process
// issued meanwhile fails with ErrExists. Every ps[i] is released.
func (c *CA) Commit(ps []*Prepared) (errs []error) {
	errs = make([]error, len(ps))
	defer func() {
		for _, p := range ps {
			p.Release()
		}
	}()
	had := make([]bool, len(ps))
	recs := make([]record, len(ps))
	for i, p := range ps {
		_, had[i] = c.idx.find(p.rec.Name)
		recs[i] = p.rec
	}
	end, err := c.beginFiles()
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	defer end()
	copy(errs, c.idx.commitIssue(recs...))
	for i, p := range ps {
		if errs[i] == nil {
			errs[i] = c.writeIssued(p.iss, had[i])
		}
	}
	return errs
}

// Unfinished returns the current certificate of name when it is the index
// line of an issue cut before its files were written: issued/NAME.crt or
// NAME.key is missing or another certificate's, and no process is writing
// them now. Nobody holds such a certificate.
func (c *CA) Unfinished(name string) (Entry, bool, error) {
	var out Entry
	var found bool
	var err error
	c.whileNoFilesInFlight(func() {
		var e Entry
		var ok, files bool
		if e, ok, err = c.Lookup(name); err != nil || !ok || e.Name != name || !e.Current {
			return
		}
		if files, err = c.HasFiles(name); err == nil && !files {
			out, found = e, true
		}
	})
	return out, found, err
}

// replaceUnfinished revokes the unfinished certificate of name (see
// [CA.Unfinished]); it fails when there is none.
func (c *CA) replaceUnfinished(name string) error {
	e, ok, err := c.Unfinished(name)
	if err != nil {
		return err
	}
	if !ok {
		return ErrExists
	}
	if _, err := c.Revoke(e.Serial, Superseded); err != nil {
		return fmt.Errorf("revoke the unfinished certificate of %s: %w", name, err)
	}
	return nil
}

// sign makes the key and certificate of a normalized request and its index
// record; it writes nothing.
func (c *CA) sign(req certs.Request, now time.Time) (*certs.Issued, record, error) {
	var key crypto.Signer
	pub := req.PublicKey
	keyType := string(req.KeyType)
	if pub == nil {
		var err error
		if key, err = certs.NewKey(req.KeyType); err != nil {
			return nil, record{}, err
		}
		pub = key.Public()
	} else {
		keyType = certs.KeyTypeOf(pub)
	}
	t := req.Template(pub, now)
	if t.NotAfter.After(c.Issuer.NotAfter) {
		left := int(time.Until(c.Issuer.NotAfter).Hours() / 24)
		return nil, record{}, fmt.Errorf("--days %d goes past the issuing CA's expiry (%s): use --days %d or fewer", req.Days, c.Issuer.NotAfter.Format(time.DateOnly), left)
	}
	cert, err := x509util.CreateCertificate(t, c.Issuer, pub, c.issuerKey)
	if err != nil {
		return nil, record{}, fmt.Errorf("sign %s: %w", req.Name, err)
	}
	iss := &certs.Issued{Name: req.Name, Kind: req.Kind, Cert: cert, Chain: c.Chain(), Key: key}
	rec := record{
		Op: opIssue, Name: req.Name, Kind: string(req.Kind), Serial: certs.SerialHex(cert),
		CN: cert.Subject.CommonName, KeyType: keyType, Hosts: req.Hosts, Org: req.Org, Days: req.Days, CSR: req.PublicKey != nil,
		MaxUses: req.MaxUses, EnrolledBy: req.EnrolledBy,
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), Time: now.UTC(),
	}
	for _, ip := range req.IPs {
		rec.IPs = append(rec.IPs, ip.String())
	}
	return iss, rec, nil
}

// writeIssued writes issued/NAME.crt (leaf + intermediate, 0644) and
// issued/NAME.key (0600). A certificate issued for a CSR has no key here:
// the key, p12 and password file of a predecessor (had: the name had a
// certificate before) are removed first, so that nothing beside the new
// certificate belongs to another.
func (c *CA) writeIssued(iss *certs.Issued, had bool) error {
	if iss.Key == nil && !had {
		return c.writeFile(c.IssuedPath(iss.Name, ".crt"), iss.CertPEM(), 0o644)
	}
	if iss.Key == nil {
		for _, ext := range []string{".key", ".p12", ".p12.pass"} {
			if err := os.Remove(c.IssuedPath(iss.Name, ext)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("remove the stale %s: %w", c.IssuedPath(iss.Name, ext), err)
			}
		}
		return c.writeFile(c.IssuedPath(iss.Name, ".crt"), iss.CertPEM(), 0o644)
	}
	keyPEM, err := iss.KeyPEM()
	if err != nil {
		return err
	}
	if err := c.writeFile(c.IssuedPath(iss.Name, ".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return c.writeFile(c.IssuedPath(iss.Name, ".crt"), iss.CertPEM(), 0o644)
}

// DefaultGrace is how long a renewed certificate stays valid beside its
// successor, so that the device that holds it is not cut off before the new
// one reaches it (`--grace 7d`).
const DefaultGrace = 7 * 24 * time.Hour

// RenewOptions are the choices of `mqtls cert renew`.
type RenewOptions struct {
	// Grace keeps the old certificate valid for this long (its index
	// records it superseded until then, and crl.pem does not list it); 0
	// revokes it at once.
	Grace time.Duration
	// Hosts and IPs, when either is given, replace the names of a server
	// certificate (every one a SAN, the first host the CN); a device
	// certificate's name is its id and cannot change.
	Hosts []string
	IPs   []net.IP
}

// Renewal is what [CA.Renew] did.
type Renewal struct {
	// Issued is the new certificate and key.
	*certs.Issued
	// Old is the certificate it replaced: revoked as superseded, or with a
	// grace its GraceUntil.
	Old Entry
	// Repair is what the call completed of runs cut short before it (see
	// repair.go).
	Repair Repair
}

// Renew issues a new key and certificate for name with the profile of its
// current one (kind, SANs, organisation, days), then revokes the old one as
// superseded. The order is safe at every instant: the new certificate's
// index line, then crl.pem listing the old one, then the old one's revoke
// line, then the new files. A cut before crl.pem leaves the old
// certificate valid but no longer current, which the next writer that
// signs CRLs revokes; a cut after it leaves a current certificate without
// files, which a re-run of Renew replaces.
//
// With o.Grace the old certificate is not revoked: one append writes the
// new certificate's line and a supersede line for the old one, valid until
// now + grace; the writer that signs CRLs after that ([CA.GenerateCRL],
// `mqtls ca crl` from cron) revokes it. A write torn between the two lines
// leaves the old certificate neither current nor pending, which is revoked
// at once: a crash errs toward revocation, never toward a longer life.
func (c *CA) Renew(name string, o RenewOptions) (Renewal, error) {
	return c.renew(name, o, nil, "")
}

// ErrNotCurrent: a renewal from a certificate that is not its name's
// current one.
var ErrNotCurrent = errors.New("not the current certificate")

// RenewCSR renews the device certificate of name for a new public key (a
// device renewing itself with a CSR, over MQTT): as [CA.Renew], with the
// same profile, but no key is made or written. from is the serial (hex) of
// the certificate the request came with: the renewal fails with
// ErrNotCurrent unless it is the name's current certificate.
func (c *CA) RenewCSR(name string, pub crypto.PublicKey, from string, o RenewOptions) (Renewal, error) {
	if pub == nil {
		return Renewal{}, errors.New("renew: no public key")
	}
	return c.renew(name, o, pub, from)
}

func (c *CA) renew(name string, o RenewOptions, pub crypto.PublicKey, from string) (Renewal, error) {
	if !c.CanSign() {
		return Renewal{}, ErrLocked
	}
	if err := c.idx.refresh(); err != nil {
		return Renewal{}, err
	}
	old, ok := c.idx.find(name)
	if !ok || old.Name != name {
		return Renewal{}, fmt.Errorf("%q: %w (issue it with mqtls cert client or cert server)", name, ErrNotFound)
	}
	if old.Revoked {
		return Renewal{}, revokedError(name)
	}
	if old.Kind == certs.Claim {
		return Renewal{}, fmt.Errorf("%q is a claim certificate: issue a new claim (mqtls cert claim) and revoke this one when the batch is done", name)
	}
	// replace is the serial of a successor of from that this renewal
	// replaces: one that a renewal cut before its files signed and nobody
	// got (see unfinishedSuccessor).
	var replace string
	if from != "" {
		f, ok := normSerial(from)
		if ok && (f != old.Serial || !old.Current) {
			var prev Entry
			if prev, ok = c.unfinishedSuccessor(name, f, old); ok {
				replace, old = old.Serial, prev
			}
		}
		if !ok {
			return Renewal{}, fmt.Errorf("%q: certificate %s is %w", name, from, ErrNotCurrent)
		}
	}
	if pub != nil && old.Kind != certs.Client {
		return Renewal{}, fmt.Errorf("%q is a %s certificate: only device certificates renew from a CSR", name, old.Kind)
	}
	if old.CSR && pub == nil {
		return Renewal{}, fmt.Errorf("%q was signed from a CSR and its key is on the device: sign its new CSR (mqtls cert sign) or let it renew itself (mqtls enroll --renew)", name)
	}
	req := certs.Request{Kind: old.Kind, Name: name, Hosts: old.Hosts, Org: old.Org, Days: old.Days, KeyType: certs.KeyType(old.KeyType), PublicKey: pub}
	for _, s := range old.IPs {
		req.IPs = append(req.IPs, net.ParseIP(s))
	}
	if len(o.Hosts) > 0 || len(o.IPs) > 0 {
		if old.Kind != certs.Server {
			return Renewal{}, fmt.Errorf("%q is a %s certificate: only a server certificate's names change (--host, --ip)", name, old.Kind)
		}
		req.Hosts, req.IPs = o.Hosts, o.IPs
	}
	req, err := req.Normalize()
	if err != nil {
		return Renewal{}, fmt.Errorf("renew %s: %w", name, err)
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return Renewal{}, err
	}
	now := time.Now()
	iss, rec, err := c.sign(req, now)
	if err != nil {
		return Renewal{}, err
	}
	out := Renewal{Issued: iss}
	end, err := c.beginFiles()
	if err != nil {
		return Renewal{}, err
	}
	defer end()
	err = c.idx.withLock(func(f *os.File) error {
		rep, err := c.repairLocked(f, rootKey, now, false)
		out.Repair = rep
		if err != nil {
			return fmt.Errorf("complete an interrupted run: %w", err)
		}
		cur, ok := c.idx.find(name)
		if replace != "" {
			// The renewal cut short is replaced: the new certificate's
			// line, then the unfinished one revoked (crl.pem first). A
			// cut in between leaves it neither current nor revoked, which
			// the next writer that signs CRLs revokes; the old
			// certificate keeps the grace it had.
			if prev, _ := c.idx.findSerial(old.Serial); !ok || cur.Serial != replace || !cur.Current || !prev.Pending(now) {
				return fmt.Errorf("%q changed while renewing it (another process?): try again", name)
			}
			if err := c.idx.appendLines(f, []record{rec}); err != nil {
				return err
			}
			revs := []record{{Op: opRevoke, Serial: replace, Reason: Superseded.String(), Time: now.UTC()}}
			if o.Grace <= 0 {
				revs = append(revs, record{Op: opRevoke, Serial: old.Serial, Reason: Superseded.String(), Time: now.UTC()})
			}
			if err := c.revokeLocked(f, rootKey, now, revs); err != nil {
				return fmt.Errorf("revoke the unfinished renewal of %s: %w", name, err)
			}
			out.Old, _ = c.idx.findSerial(old.Serial)
			return nil
		}
		switch {
		case ok && cur.Serial == old.Serial && cur.Revoked:
			return revokedError(name)
		case !ok || cur.Serial != old.Serial || !cur.Current:
			return fmt.Errorf("%q changed while renewing it (another process?): try again", name)
		}
		if o.Grace > 0 {
			sup := record{Op: opSupersede, Serial: old.Serial, Until: now.Add(o.Grace).UTC(), Time: now.UTC()}
			if err := c.idx.appendLines(f, []record{rec, sup}); err != nil {
				return err
			}
			out.Old, _ = c.idx.findSerial(old.Serial)
			return nil
		}
		if err := c.idx.appendLines(f, []record{rec}); err != nil {
			return err
		}
		rev := record{Op: opRevoke, Serial: old.Serial, Reason: Superseded.String(), Time: now.UTC()}
		if err := c.revokeLocked(f, rootKey, now, []record{rev}); err != nil {
			return fmt.Errorf("revoke the old certificate of %s: %w", name, err)
		}
		out.Old, _ = c.idx.findSerial(old.Serial)
		return nil
	})
	if err != nil {
		return Renewal{Repair: out.Repair}, err
	}
	if err := c.writeIssued(iss, true); err != nil {
		return Renewal{Repair: out.Repair}, err
	}
	return out, nil
}

// unfinishedSuccessor returns the entry of from when a renewal from it was
// cut before its certificate's files were written: from is name's
// certificate, still in its grace, and cur, the current certificate of
// name and issued after it, is unfinished ([CA.Unfinished]). The answer of
// a renewal goes out only after its files are written and synced, so
// nobody holds cur, and the device, which still holds from, renews from it
// again (with a new key, as mqtls enroll --renew makes one every run).
func (c *CA) unfinishedSuccessor(name, from string, cur Entry) (Entry, bool) {
	prev, ok := c.idx.findSerial(from)
	if !ok || prev.Name != name || !prev.Pending(time.Now()) || !cur.Current || cur.IssuedAt.Before(prev.IssuedAt) {
		return Entry{}, false
	}
	u, ok, err := c.Unfinished(name)
	if err != nil || !ok || u.Serial != cur.Serial {
		return Entry{}, false
	}
	return prev, true
}

func revokedError(name string) error {
	return fmt.Errorf("%q is %w: issue a new certificate instead of renewing", name, ErrRevoked)
}
