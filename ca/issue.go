package ca

import (
	"fmt"
	"net"
	"os"
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
// certificate. Safe for concurrent use.
func (c *CA) Issue(req certs.Request) (*certs.Issued, error) {
	if !c.CanSign() {
		return nil, ErrLocked
	}
	req, err := req.Normalize()
	if err != nil {
		return nil, err
	}
	if err := c.idx.reserve(req.Name); err != nil {
		return nil, err
	}
	defer c.idx.release(req.Name)
	iss, rec, err := c.sign(req, time.Now())
	if err != nil {
		return nil, err
	}
	if err := c.idx.commitIssue(rec); err != nil {
		return nil, err
	}
	if err := c.writeIssued(iss); err != nil {
		return nil, err
	}
	return iss, nil
}

// sign makes the key and certificate of a normalized request and its index
// record; it writes nothing.
func (c *CA) sign(req certs.Request, now time.Time) (*certs.Issued, record, error) {
	key, err := certs.NewKey(req.KeyType)
	if err != nil {
		return nil, record{}, err
	}
	t := req.Template(key.Public(), now)
	if t.NotAfter.After(c.Issuer.NotAfter) {
		left := int(time.Until(c.Issuer.NotAfter).Hours() / 24)
		return nil, record{}, fmt.Errorf("--days %d goes past the issuing CA's expiry (%s): use --days %d or fewer", req.Days, c.Issuer.NotAfter.Format(time.DateOnly), left)
	}
	cert, err := x509util.CreateCertificate(t, c.Issuer, key.Public(), c.issuerKey)
	if err != nil {
		return nil, record{}, fmt.Errorf("sign %s: %w", req.Name, err)
	}
	iss := &certs.Issued{Name: req.Name, Kind: req.Kind, Cert: cert, Chain: c.Chain(), Key: key}
	rec := record{
		Op: opIssue, Name: req.Name, Kind: string(req.Kind), Serial: certs.SerialHex(cert),
		CN: cert.Subject.CommonName, KeyType: string(req.KeyType), Hosts: req.Hosts, Org: req.Org, Days: req.Days,
		NotBefore: cert.NotBefore.UTC(), NotAfter: cert.NotAfter.UTC(), Time: now.UTC(),
	}
	for _, ip := range req.IPs {
		rec.IPs = append(rec.IPs, ip.String())
	}
	return iss, rec, nil
}

// writeIssued writes issued/NAME.crt (leaf + intermediate, 0644) and
// issued/NAME.key (0600).
func (c *CA) writeIssued(iss *certs.Issued) error {
	keyPEM, err := iss.KeyPEM()
	if err != nil {
		return err
	}
	if err := c.writeFile(c.IssuedPath(iss.Name, ".key"), keyPEM, 0o600); err != nil {
		return err
	}
	return c.writeFile(c.IssuedPath(iss.Name, ".crt"), iss.CertPEM(), 0o644)
}

// Renew issues a new key and certificate for name with the profile of its
// current one (kind, SANs, organisation, days), then revokes the old one as
// superseded and regenerates the CRL. The index lines of both steps are
// appended together, so a crash never leaves two current certificates.
func (c *CA) Renew(name string) (*certs.Issued, error) {
	if !c.CanSign() {
		return nil, ErrLocked
	}
	if err := c.idx.refresh(); err != nil {
		return nil, err
	}
	old, ok := c.idx.find(name)
	if !ok || old.Name != name {
		return nil, fmt.Errorf("%q: %w (issue it with mqtls cert client or cert server)", name, ErrNotFound)
	}
	if old.Revoked {
		return nil, fmt.Errorf("%q is revoked: issue a new certificate instead of renewing", name)
	}
	req := certs.Request{Kind: old.Kind, Name: name, Hosts: old.Hosts, Org: old.Org, Days: old.Days, KeyType: certs.KeyType(old.KeyType)}
	for _, s := range old.IPs {
		req.IPs = append(req.IPs, net.ParseIP(s))
	}
	req, err := req.Normalize()
	if err != nil {
		return nil, fmt.Errorf("renew %s: %w", name, err)
	}
	rootKey, err := c.rootSigner()
	if err != nil {
		return nil, err
	}
	now := time.Now()
	iss, rec, err := c.sign(req, now)
	if err != nil {
		return nil, err
	}
	err = c.idx.withLock(func(f *os.File) error {
		if cur, ok := c.idx.find(name); !ok || cur.Serial != old.Serial || !cur.Current {
			return fmt.Errorf("%q changed while renewing it (another process?): try again", name)
		}
		rev := record{Op: opRevoke, Serial: old.Serial, Reason: Superseded.String(), Time: now.UTC()}
		if err := c.idx.appendLines(f, []record{rec, rev}); err != nil {
			return err
		}
		return c.writeCRL(rootKey, now)
	})
	if err != nil {
		return nil, err
	}
	if err := c.writeIssued(iss); err != nil {
		return nil, err
	}
	return iss, nil
}
