package certs

import (
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"golang.org/x/net/idna"
)

// Kind is the profile of a leaf certificate.
type Kind string

// The leaf profiles.
const (
	Server Kind = "server" // serverAuth only: a broker
	Client Kind = "client" // clientAuth only: a device or an app
)

// Validity defaults and limits, in days.
const (
	// DefaultClientDays is a device certificate's life: a year, renewed at
	// two thirds of it (see [NeedsRenewal]).
	DefaultClientDays = 365
	// DefaultServerDays and MaxServerDays: Apple platforms refuse TLS server
	// certificates valid for more than 825 days (support.apple.com HT210176),
	// so that is both the default and the limit.
	DefaultServerDays = 825
	MaxServerDays     = 825
)

// Backdate is subtracted from NotBefore so that a device whose clock is a
// little behind still accepts a fresh certificate.
const Backdate = time.Minute

// Request describes one leaf certificate to issue.
type Request struct {
	// Kind is Server or Client.
	Kind Kind
	// Name is the certificate's name in the PKI folder (issued/NAME.crt).
	// For clients it is the device id and the CN; for servers it defaults to
	// "server".
	Name string
	// Hosts and IPs are the server's SANs; the first host (else the first IP)
	// is also its CN. A host that parses as an IP becomes an IP SAN.
	Hosts []string
	IPs   []net.IP
	// Org is the subject's O= (optional).
	Org string
	// Days is the validity; 0 means the profile's default.
	Days int
	// KeyType of the new key; "" means EC P-256.
	KeyType KeyType
	// PublicKey, when set, is the key of a certificate request the
	// certificate is issued for (see [ParseCSR]): no key is made, KeyType
	// is ignored, and the private key stays with the requester.
	PublicKey crypto.PublicKey
	// ClaimName is a claim's name (Kind Claim: Normalize moves Name here
	// and sets Name to "claim-NAME"); MaxUses bounds the enrollments it
	// may make (0: no limit).
	ClaimName string
	MaxUses   int
	// EnrolledBy is the serial of the claim certificate a device
	// certificate was enrolled with, recorded in the index to count the
	// claim's uses.
	EnrolledBy string
}

// Normalize fills defaults and checks the request; it returns the request as
// it will be issued.
func (r Request) Normalize() (Request, error) {
	if r.PublicKey != nil {
		if err := CheckPublicKey(r.PublicKey); err != nil {
			return r, err
		}
		r.KeyType = ""
	} else {
		if r.KeyType == "" {
			r.KeyType = EC
		}
		if _, err := ParseKeyType(string(r.KeyType)); err != nil {
			return r, err
		}
	}
	if r.Days < 0 {
		return r, fmt.Errorf("--days %d: it must be positive", r.Days)
	}
	switch r.Kind {
	case Claim:
		return r.normalizeClaim()
	case Client:
		if err := ValidateID(r.Name); err != nil {
			return r, err
		}
		if len(r.Hosts) > 0 || len(r.IPs) > 0 {
			return r, errors.New("a client certificate has no host names or IPs: use cert server for a broker")
		}
		if r.Days == 0 {
			r.Days = DefaultClientDays
		}
	case Server:
		if r.Name == "" {
			r.Name = "server"
		}
		if err := ValidateID(r.Name); err != nil {
			return r, fmt.Errorf("--name: %w", err)
		}
		var hosts []string
		ips := append([]net.IP(nil), r.IPs...)
		for _, h := range r.Hosts {
			if ip := net.ParseIP(h); ip != nil {
				ips = append(ips, ip)
				continue
			}
			n, err := ValidateHost(h)
			if err != nil {
				return r, err
			}
			hosts = append(hosts, n)
		}
		if len(hosts) == 0 && len(ips) == 0 {
			return r, errors.New("a server certificate needs at least one --host or --ip (for example --host localhost --ip 127.0.0.1)")
		}
		r.Hosts, r.IPs = hosts, ips
		if r.Days == 0 {
			r.Days = DefaultServerDays
		}
		if r.Days > MaxServerDays {
			return r, fmt.Errorf("--days %d: server certificates may last at most %d days (Apple platforms refuse longer ones)", r.Days, MaxServerDays)
		}
	default:
		return r, fmt.Errorf("unknown certificate kind %q", r.Kind)
	}
	return r, nil
}

// ValidateHost checks a DNS name for a SAN and returns it in ASCII (IDNA)
// form. A leading "*." wildcard is allowed.
func ValidateHost(h string) (string, error) {
	if h == "" {
		return "", errors.New("--host is empty")
	}
	base := strings.TrimPrefix(h, "*.")
	a, err := idna.Lookup.ToASCII(base)
	if err != nil || strings.ContainsAny(a, " */:@") || len(a) > 253 {
		return "", fmt.Errorf("--host %q is not a valid host name (use --ip for IP addresses)", h)
	}
	if base != h {
		a = "*." + a
	}
	return strings.ToLower(a), nil
}

// ParseIP reads an --ip value.
func ParseIP(s string) (net.IP, error) {
	ip := net.ParseIP(strings.TrimSpace(s))
	if ip == nil {
		return nil, fmt.Errorf("--ip %q is not an IP address (use --host for host names)", s)
	}
	return ip, nil
}

// CommonName is the subject CN the request gets.
func (r Request) CommonName() string {
	switch r.Kind {
	case Client:
		return r.Name
	case Claim:
		return ClaimCNPrefix + r.ClaimName
	}
	if len(r.Hosts) > 0 {
		return r.Hosts[0]
	}
	if len(r.IPs) > 0 {
		return r.IPs[0].String()
	}
	return r.Name
}

// Template returns the x509 template of a normalized request for key pub,
// valid from now (backdated by [Backdate]) for r.Days days. Serial and key
// identifiers are left for the signer.
func (r Request) Template(pub crypto.PublicKey, now time.Time) *x509.Certificate {
	subj := pkix.Name{CommonName: r.CommonName()}
	if r.Org != "" {
		subj.Organization = []string{r.Org}
	}
	ku := x509.KeyUsageDigitalSignature
	if _, ok := pub.(*rsa.PublicKey); ok {
		ku |= x509.KeyUsageKeyEncipherment
	}
	t := &x509.Certificate{
		Subject:               subj,
		NotBefore:             now.Add(-Backdate).UTC().Truncate(time.Second),
		NotAfter:              now.Add(time.Duration(r.Days) * 24 * time.Hour).UTC().Truncate(time.Second),
		KeyUsage:              ku,
		BasicConstraintsValid: true,
	}
	switch r.Kind {
	case Server:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		t.DNSNames = r.Hosts
		t.IPAddresses = r.IPs
	case Client:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	case Claim:
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		t.ExtraExtensions = []pkixExtension{claimExtension(r.ClaimName)}
	}
	return t
}

// Issued is a freshly issued leaf: its key, the certificate and the chain
// above it.
type Issued struct {
	// Name is the certificate's name in the PKI folder.
	Name string
	// Kind is the profile it was issued with.
	Kind Kind
	// Cert is the leaf.
	Cert *x509.Certificate
	// Chain is the issuing CA first, up to and including the root.
	Chain []*x509.Certificate
	// Key is the leaf's private key; nil when it was issued for a CSR
	// (the requester keeps its key).
	Key crypto.Signer
}

// CertPEM is the leaf followed by the chain without the root: what
// issued/NAME.crt holds and what a TLS server or client presents.
func (i *Issued) CertPEM() []byte {
	b := pemCert(i.Cert)
	for _, c := range i.Chain {
		if isSelfSigned(c) {
			break
		}
		b = append(b, pemCert(c)...)
	}
	return b
}

// KeyPEM is the leaf key as unencrypted PKCS#8.
func (i *Issued) KeyPEM() ([]byte, error) { return KeyPEM(i.Key) }

// Root is the last certificate of the chain.
func (i *Issued) Root() *x509.Certificate {
	if len(i.Chain) == 0 {
		return nil
	}
	return i.Chain[len(i.Chain)-1]
}

func isSelfSigned(c *x509.Certificate) bool {
	return string(c.RawIssuer) == string(c.RawSubject)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}

func pemEncode(b *pem.Block) []byte { return pem.EncodeToMemory(b) }

type pkixExtension = pkix.Extension

// PEMCerts encodes certificates as concatenated PEM blocks.
func PEMCerts(cs ...*x509.Certificate) []byte {
	var b []byte
	for _, c := range cs {
		b = append(b, pemCert(c)...)
	}
	return b
}
