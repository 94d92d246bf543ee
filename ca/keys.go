package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"mqtls/internal/fileio"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"
)

// encodeCAKey serialises a CA key: PKCS#8 encrypted with PBES2 (PBKDF2-SHA256,
// 600,000 iterations, AES-256-CBC) when password is set. WithPKCS8 matters:
// without it pemutil writes the legacy MD5-based PEM encryption.
func encodeCAKey(k crypto.Signer, password []byte) ([]byte, error) {
	opts := []pemutil.Options{pemutil.WithPKCS8(true)}
	if len(password) > 0 {
		opts = append(opts, pemutil.WithPassword(password))
	}
	b, err := pemutil.Serialize(k, opts...)
	if err != nil {
		return nil, fmt.Errorf("encode CA key: %w", err)
	}
	return pem.EncodeToMemory(b), nil
}

// readKey reads a CA key, decrypts it and checks that it belongs to cert.
func readKey(path string, password []byte, cert *x509.Certificate) (crypto.Signer, error) {
	b, err := fileio.ReadFile(path, fileio.MaxPEM, "a CA key")
	if err != nil {
		return nil, fmt.Errorf("load CA key: %w", err)
	}
	encrypted := bytes.Contains(b, []byte("ENCRYPTED PRIVATE KEY"))
	if encrypted && len(password) == 0 {
		return nil, ErrPasswordNeeded
	}
	var opts []pemutil.Options
	if encrypted {
		opts = append(opts, pemutil.WithPassword(password))
	}
	k, err := pemutil.Parse(b, opts...)
	if err != nil {
		if encrypted {
			// A wrong password shows as bad padding or, rarely, as a
			// garbage key that does not parse: both mean the same.
			return nil, ErrWrongPassword
		}
		return nil, fmt.Errorf("load CA key %s: %w", path, err)
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load CA key %s: not a signing key", path)
	}
	if err := keyutil.VerifyPair(cert.PublicKey, s); err != nil {
		if encrypted {
			return nil, ErrWrongPassword
		}
		return nil, fmt.Errorf("load CA key %s: it does not match the certificate", path)
	}
	return s, nil
}
