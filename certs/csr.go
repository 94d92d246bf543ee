package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// MaxCSRSize bounds a certificate request, PEM or DER: one with an RSA-4096
// key and a few SANs is under 4 KiB, so anything past this is not a CSR.
const MaxCSRSize = 64 << 10

// MinRSABits is the smallest RSA key mqtls signs.
const MinRSABits = 2048

// ErrWeakKey is wrapped by every refusal of [CheckPublicKey].
var ErrWeakKey = errors.New("key not accepted")

// ParseCSR reads a certificate signing request in PEM ("CERTIFICATE
// REQUEST" or "NEW CERTIFICATE REQUEST") or DER form, checks its signature
// (the requester holds the private key, and nothing was changed since) and
// its key ([CheckPublicKey]). Nothing else the request asks for (CN,
// SANs, extensions) is trusted: callers take what their profile allows.
func ParseCSR(data []byte) (*x509.CertificateRequest, error) {
	if len(data) > MaxCSRSize {
		return nil, fmt.Errorf("the CSR is %d bytes, larger than %d: it is not a certificate request", len(data), MaxCSRSize)
	}
	der := data
	if blk, _ := pem.Decode(data); blk != nil {
		switch blk.Type {
		case "CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST":
			der = blk.Bytes
		case "CERTIFICATE":
			return nil, errors.New("this is a certificate, not a certificate request (make one with openssl req -new)")
		default:
			if bytes.Contains([]byte(blk.Type), []byte("PRIVATE KEY")) {
				return nil, errors.New("this is a private key, not a certificate request: never hand out the key, send its CSR (openssl req -new -key KEY)")
			}
			return nil, fmt.Errorf("PEM block %q is not a certificate request", blk.Type)
		}
	} else if bytes.Contains(data, []byte("-----BEGIN")) {
		return nil, errors.New("the CSR's PEM is damaged")
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("not a certificate request (PEM or DER): %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, errors.New("the CSR's signature does not verify: it was changed after it was signed, or it is damaged")
	}
	if err := CheckPublicKey(csr.PublicKey); err != nil {
		return nil, err
	}
	return csr, nil
}

// CheckPublicKey refuses keys mqtls does not sign: RSA below [MinRSABits]
// bits, EC curves other than P-256 and P-384, and anything but RSA, ECDSA
// and Ed25519. P-521 is left out because TLS stacks of small devices
// (mbedTLS defaults, Android before 7) do not all take it.
func CheckPublicKey(pub crypto.PublicKey) error {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if n := k.N.BitLen(); n < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits is too weak, use %d bits or more", ErrWeakKey, n, MinRSABits)
		}
	case *ecdsa.PublicKey:
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return fmt.Errorf("%w: EC curve %s, use P-256, P-384 or Ed25519", ErrWeakKey, k.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: %T keys are not signed, use EC P-256, P-384, Ed25519 or RSA-2048 or more", ErrWeakKey, pub)
	}
	return nil
}

// CSRRequest is the request that issues a certificate of kind for a parsed
// CSR: its public key, and its CN as the name (validated as a device id)
// unless name is given. Only a Server takes the CSR's DNS and IP SANs
// (checked as `cert server` checks --host and --ip); nothing else the CSR
// asks for is used. The result still goes through [Request.Normalize].
func CSRRequest(csr *x509.CertificateRequest, kind Kind, name string, days int) (Request, error) {
	n := 0
	for _, a := range csr.Subject.Names {
		if a.Type.Equal(oidCommonName) {
			n++
		}
	}
	if n > 1 {
		return Request{}, fmt.Errorf("the CSR's subject has %d CNs: it must have exactly one", n)
	}
	cn := csr.Subject.CommonName
	if name == "" {
		if cn == "" {
			return Request{}, errors.New("the CSR has no CN: give the device id with --name")
		}
		if err := ValidateID(cn); err != nil {
			return Request{}, fmt.Errorf("the CSR's CN: %w (or give the name with --name)", err)
		}
		name = cn
	}
	r := Request{Kind: kind, Name: name, Days: days, PublicKey: csr.PublicKey}
	if kind == Server {
		r.Hosts = csr.DNSNames
		r.IPs = csr.IPAddresses
		if len(r.Hosts) == 0 && len(r.IPs) == 0 {
			return Request{}, errors.New("the CSR has no DNS or IP subjectAltName, which a server certificate needs (openssl req -addext subjectAltName=DNS:HOST)")
		}
	}
	return r, nil
}
