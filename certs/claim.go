package certs

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Claim certificates: a batch identity a device leaves the factory with,
// good only for enrolling over MQTT (see package enroll). Its CN is
// "claim:NAME", which no device id can be ([ValidateID] refuses ':'), and it
// carries the extension [OIDClaim] whose value is NAME as a UTF8String. A
// broker recognises a claim by that extension; [Identity] refuses it, so a
// claim never logs in as a device anywhere.
const (
	// Claim is the profile of a claim certificate: clientAuth only, CN
	// "claim:NAME", the claim extension, [DefaultClaimDays] days.
	Claim Kind = "claim"
	// ClaimCNPrefix starts the CN (and the broker username) of a claim.
	ClaimCNPrefix = "claim:"
	// ClaimFilePrefix starts a claim's name in the PKI folder
	// (issued/claim-NAME.crt) and in the index.
	ClaimFilePrefix = "claim-"
	// DefaultClaimDays is a claim certificate's life: a production batch.
	DefaultClaimDays = 30
)

// OIDClaim marks a claim certificate (a non-critical extension, so that
// TLS stacks that do not know it still verify the chain). It sits in the
// experimental arc 1.3.6.1.3: it means something only on certificates the
// broker's own CA signed, so a clash with another use of the number cannot
// grant anything.
var OIDClaim = asn1.ObjectIdentifier{1, 3, 6, 1, 3, 15, 1}

// ErrClaim is wrapped by the refusal of a claim certificate where a device
// identity is wanted.
var ErrClaim = errors.New("it is a claim certificate, good only for enrollment")

// ClaimName returns the claim name of a certificate that carries the claim
// extension. ok is false (and err nil) for any other certificate; err says
// why a certificate with the extension is not a valid claim: it needs
// clientAuth, exactly one CN, equal to "claim:" + the extension's name, and
// a name that is a valid device id.
func ClaimName(c *x509.Certificate) (name string, ok bool, err error) {
	if c == nil {
		return "", false, nil
	}
	i := slices.IndexFunc(c.Extensions, func(e pkixExtension) bool { return e.Id.Equal(OIDClaim) })
	if i < 0 {
		return "", false, nil
	}
	rest, err := asn1.UnmarshalWithParams(c.Extensions[i].Value, &name, "utf8")
	if err != nil || len(rest) > 0 {
		return "", true, errors.New("its claim extension is damaged")
	}
	if err := ValidateID(name); err != nil {
		return "", true, fmt.Errorf("claim name: %v", err)
	}
	if err := clientAuth(c); err != nil {
		return "", true, err
	}
	cns := commonNames(c)
	if len(cns) != 1 || cns[0] != ClaimCNPrefix+name {
		return "", true, fmt.Errorf("its subject must have the one CN %q", ClaimCNPrefix+name)
	}
	return name, true, nil
}

// claimExtension is the marker extension of claim name.
func claimExtension(name string) pkixExtension {
	v, _ := asn1.MarshalWithParams(name, "utf8")
	return pkixExtension{Id: OIDClaim, Value: v}
}

// normalizeClaim checks a claim request: Name is the claim's name on the
// first call, "claim-NAME" after (Normalize is idempotent).
func (r Request) normalizeClaim() (Request, error) {
	if r.ClaimName == "" {
		if strings.HasPrefix(r.Name, ClaimFilePrefix) {
			return r, fmt.Errorf("claim name %q: give it without the %q prefix", r.Name, ClaimFilePrefix)
		}
		if err := ValidateID(r.Name); err != nil {
			return r, fmt.Errorf("claim name: %w", err)
		}
		r.ClaimName = r.Name
	}
	r.Name = ClaimFilePrefix + r.ClaimName
	if len(r.Name) > MaxIDLen {
		return r, fmt.Errorf("claim name %q: it is too long, the limit is %d bytes", r.ClaimName, MaxIDLen-len(ClaimFilePrefix))
	}
	if len(r.Hosts) > 0 || len(r.IPs) > 0 {
		return r, errors.New("a claim certificate has no host names or IPs")
	}
	if r.MaxUses < 0 {
		return r, fmt.Errorf("--max-uses %d: it must be 0 (no limit) or more", r.MaxUses)
	}
	if r.Days == 0 {
		r.Days = DefaultClaimDays
	}
	return r, nil
}

func commonNames(c *x509.Certificate) []string {
	var cns []string
	for _, a := range c.Subject.Names {
		if a.Type.Equal(oidCommonName) {
			s, _ := a.Value.(string)
			cns = append(cns, s)
		}
	}
	return cns
}
