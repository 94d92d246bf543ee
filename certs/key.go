package certs

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"fmt"
	"strings"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
)

// KeyType names a key algorithm and size.
type KeyType string

// The key types mqtls makes. EC P-256 is the default: it is what Android,
// Mosquitto and every MQTT client accept, and it is fast to sign with.
const (
	EC      KeyType = "ec"      // ECDSA P-256
	RSA     KeyType = "rsa"     // RSA-2048, for old devices
	RSA3072 KeyType = "rsa3072" // RSA-3072
)

// ParseKeyType reads a --key-type value; "" is [EC].
func ParseKeyType(s string) (KeyType, error) {
	switch strings.ToLower(s) {
	case "", "ec", "p256", "p-256", "ecdsa":
		return EC, nil
	case "rsa", "rsa2048":
		return RSA, nil
	case "rsa3072":
		return RSA3072, nil
	}
	return "", fmt.Errorf("unknown key type %q: use ec, rsa (2048 bits) or rsa3072", s)
}

// NewKey generates a private key of type kt.
func NewKey(kt KeyType) (crypto.Signer, error) {
	var (
		s   crypto.Signer
		err error
	)
	switch kt {
	case EC, "":
		s, err = keyutil.GenerateSigner("EC", "P-256", 0)
	case RSA:
		s, err = keyutil.GenerateSigner("RSA", "", 2048)
	case RSA3072:
		s, err = keyutil.GenerateSigner("RSA", "", 3072)
	default:
		return nil, fmt.Errorf("unknown key type %q: use ec, rsa (2048 bits) or rsa3072", kt)
	}
	if err != nil {
		return nil, fmt.Errorf("generate %s key: %w", kt, err)
	}
	return s, nil
}

// KeyTypeOf names the type of a public or private key.
func KeyTypeOf(k any) string {
	if s, ok := k.(crypto.Signer); ok {
		k = s.Public()
	}
	switch p := k.(type) {
	case *ecdsa.PublicKey:
		return "EC " + p.Curve.Params().Name
	case *rsa.PublicKey:
		return fmt.Sprintf("RSA-%d", p.N.BitLen())
	case ed25519.PublicKey:
		return "Ed25519"
	}
	return fmt.Sprintf("%T", k)
}

// KeyPEM encodes a leaf private key as unencrypted PKCS#8 ("PRIVATE KEY"), the
// form Mosquitto, OpenSSL and the MQTT client libraries read. Leaf keys live
// in 0600 files; CA keys are encrypted by the ca package.
func KeyPEM(k crypto.Signer) ([]byte, error) {
	b, err := pemutil.Serialize(k, pemutil.WithPKCS8(true))
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return pemEncode(b), nil
}
