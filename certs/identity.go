package certs

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"slices"
)

// ClientIdentity is who a verified client certificate says the client is.
type ClientIdentity struct {
	// CN is the certificate's one common name, a valid device id: the
	// username of a certificate login.
	CN string
	// Subject is the whole subject in RFC 2253 form ("CN=dev2,O=Acme"),
	// the username with Mosquitto's use_subject_as_username.
	Subject string
}

// ErrIdentity is wrapped by every error of [Identity].
var ErrIdentity = errors.New("client certificate refused")

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// Identity is the one rule that turns a verified client certificate into an
// identity, used by the broker, the inspector and `cert inspect`:
//
//   - the certificate carries the clientAuth extended key usage. Go's
//     verifier (like OpenSSL's) accepts a certificate with no EKU
//     extension, or with anyExtendedKeyUsage only, for any purpose; we do
//     not, since a device certificate is issued with clientAuth;
//   - its subject holds exactly one CN. Go keeps the last of several and
//     Mosquitto the first, so "CN=ATTACK,CN=DEV1" would log in as DEV1 here
//     and as ATTACK there: such a certificate is refused;
//   - that CN is a valid device id ([ValidateID]), so that it can stand for
//     %u in an ACL pattern such as devices/%u/#;
//   - it is not a claim certificate ([ClaimName]): a claim is good only for
//     enrollment, where the broker asks ClaimName itself.
//
// The error says which rule failed, for the broker's log.
func Identity(c *x509.Certificate) (ClientIdentity, error) {
	if c == nil {
		return ClientIdentity{}, fmt.Errorf("%w: no certificate", ErrIdentity)
	}
	if name, ok, err := ClaimName(c); ok {
		if err != nil {
			return ClientIdentity{}, fmt.Errorf("%w: claim certificate: %v", ErrIdentity, err)
		}
		return ClientIdentity{}, fmt.Errorf("%w: %w (%s%s), on a listener with enrollment true", ErrIdentity, ErrClaim, ClaimCNPrefix, name)
	}
	if err := clientAuth(c); err != nil {
		return ClientIdentity{}, fmt.Errorf("%w: %v", ErrIdentity, err)
	}
	cns := commonNames(c)
	switch len(cns) {
	case 0:
		return ClientIdentity{}, fmt.Errorf("%w: the subject has no CN", ErrIdentity)
	case 1:
	default:
		return ClientIdentity{}, fmt.Errorf("%w: the subject has %d CNs (%q): a certificate must name exactly one", ErrIdentity, len(cns), cns)
	}
	if err := ValidateID(cns[0]); err != nil {
		return ClientIdentity{}, fmt.Errorf("%w: CN: %v", ErrIdentity, err)
	}
	return ClientIdentity{CN: cns[0], Subject: c.Subject.String()}, nil
}

func clientAuth(c *x509.Certificate) error {
	if slices.Contains(c.ExtKeyUsage, x509.ExtKeyUsageClientAuth) {
		return nil
	}
	switch {
	case len(c.ExtKeyUsage) == 0 && len(c.UnknownExtKeyUsage) == 0:
		return errors.New("it has no extended key usage: clientAuth is required")
	case len(c.ExtKeyUsage) == 1 && c.ExtKeyUsage[0] == x509.ExtKeyUsageAny && len(c.UnknownExtKeyUsage) == 0:
		return errors.New("its only extended key usage is anyExtendedKeyUsage: clientAuth is required")
	}
	return errors.New("its extended key usage does not include clientAuth")
}
