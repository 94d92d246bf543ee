package certs

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Info is what `mqtls cert inspect` shows of a certificate; its JSON form is
// the --json output.
type Info struct {
	Subject     string    `json:"subject"`
	CommonName  string    `json:"common_name"`
	Issuer      string    `json:"issuer"`
	Serial      string    `json:"serial"`
	DNSNames    []string  `json:"dns_names,omitempty"`
	IPAddresses []string  `json:"ip_addresses,omitempty"`
	KeyUsage    []string  `json:"key_usage,omitempty"`
	ExtKeyUsage []string  `json:"ext_key_usage,omitempty"`
	IsCA        bool      `json:"is_ca"`
	KeyType     string    `json:"key_type"`
	NotBefore   time.Time `json:"not_before"`
	NotAfter    time.Time `json:"not_after"`
	SHA256      string    `json:"sha256_fingerprint"`
	// Identity is the username a broker gives this certificate as a
	// client certificate ([Identity]); IdentityRefused says why it gives
	// none. Both are empty for a CA.
	Identity        string `json:"client_identity,omitempty"`
	IdentityRefused string `json:"client_identity_refused,omitempty"`
}

// Inspect describes c.
func Inspect(c *x509.Certificate) Info {
	in := Info{
		Subject:    c.Subject.String(),
		CommonName: c.Subject.CommonName,
		Issuer:     c.Issuer.String(),
		Serial:     SerialHex(c),
		DNSNames:   c.DNSNames,
		IsCA:       c.IsCA,
		KeyType:    KeyTypeOf(c.PublicKey),
		NotBefore:  c.NotBefore.UTC(),
		NotAfter:   c.NotAfter.UTC(),
		SHA256:     Fingerprint(c),
	}
	for _, ip := range c.IPAddresses {
		in.IPAddresses = append(in.IPAddresses, ip.String())
	}
	for _, k := range kuNames {
		if c.KeyUsage&k.bit != 0 {
			in.KeyUsage = append(in.KeyUsage, k.name)
		}
	}
	for _, e := range c.ExtKeyUsage {
		in.ExtKeyUsage = append(in.ExtKeyUsage, ekuName(e))
	}
	if !c.IsCA {
		if id, err := Identity(c); err == nil {
			in.Identity = id.CN
		} else {
			in.IdentityRefused = strings.TrimPrefix(err.Error(), ErrIdentity.Error()+": ")
		}
	}
	return in
}

// SerialHex is a certificate serial as upper-case hex, the form OpenSSL
// prints and `mqtls cert revoke` accepts.
func SerialHex(c *x509.Certificate) string {
	return strings.ToUpper(c.SerialNumber.Text(16))
}

// Fingerprint is the SHA-256 of the DER certificate, as colon-separated
// upper-case hex (the form of `openssl x509 -fingerprint -sha256`).
func Fingerprint(c *x509.Certificate) string {
	sum := sha256.Sum256(c.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	var b strings.Builder
	for i := 0; i < len(h); i += 2 {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(h[i : i+2])
	}
	return b.String()
}

var kuNames = []struct {
	bit  x509.KeyUsage
	name string
}{
	{x509.KeyUsageDigitalSignature, "digitalSignature"},
	{x509.KeyUsageContentCommitment, "contentCommitment"},
	{x509.KeyUsageKeyEncipherment, "keyEncipherment"},
	{x509.KeyUsageDataEncipherment, "dataEncipherment"},
	{x509.KeyUsageKeyAgreement, "keyAgreement"},
	{x509.KeyUsageCertSign, "certSign"},
	{x509.KeyUsageCRLSign, "crlSign"},
	{x509.KeyUsageEncipherOnly, "encipherOnly"},
	{x509.KeyUsageDecipherOnly, "decipherOnly"},
}

func ekuName(e x509.ExtKeyUsage) string {
	switch e {
	case x509.ExtKeyUsageServerAuth:
		return "serverAuth"
	case x509.ExtKeyUsageClientAuth:
		return "clientAuth"
	case x509.ExtKeyUsageAny:
		return "any"
	case x509.ExtKeyUsageCodeSigning:
		return "codeSigning"
	case x509.ExtKeyUsageEmailProtection:
		return "emailProtection"
	case x509.ExtKeyUsageTimeStamping:
		return "timeStamping"
	case x509.ExtKeyUsageOCSPSigning:
		return "OCSPSigning"
	}
	return fmt.Sprintf("eku(%d)", e)
}

// NeedsRenewal reports whether c has used up two thirds of its life at now,
// the renewal point step and this project use.
func NeedsRenewal(c *x509.Certificate, now time.Time) bool {
	return RenewalDue(c.NotBefore, c.NotAfter, now)
}

// RenewalDue is NeedsRenewal for a validity period.
func RenewalDue(notBefore, notAfter, now time.Time) bool {
	life := notAfter.Sub(notBefore)
	return now.After(notBefore.Add(life * 2 / 3))
}
