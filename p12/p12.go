// Package p12 writes PKCS#12 bundles (key, leaf and chain) that phones and
// Java accept.
//
// # Formats
//
// The default is go-pkcs12's LegacyDES with 2048 iterations: 3DES for the key
// and the certificates, an HMAC-SHA-1 MAC. Android 10–13, iOS and macOS
// reject the AES/PBKDF2 form and answer "wrong password"; OpenSSL 3 reads
// LegacyDES without -legacy and keytool reads it too. Modern (go-pkcs12's
// Modern2023: PBES2, AES-256-CBC, HMAC-SHA-256) is for Android 14+, Windows
// Server 2019+, Java 12+ and OpenSSL 3. Modern2026 (PBMAC1) is not offered:
// OpenSSL 3.0 and Java 17 cannot read it.
//
// # Passwords
//
// The legacy encryption is weak, so the strength is in the password:
// [RandomPassword] gives 24 random characters of an ASCII alphabet without
// look-alikes (keytool rejects non-ASCII passwords). Empty passwords are
// refused: Android and the macOS keychain cannot import such files.
package p12

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"

	pkcs12 "software.sslmate.com/src/go-pkcs12"
)

// Iterations is the KDF iteration count of the legacy format (OpenSSL's
// default for -descert).
const Iterations = 2048

var (
	legacy    = pkcs12.LegacyDES.WithIterations(Iterations)
	modernEnc = pkcs12.Modern2023
)

// Encode bundles key, leaf and chain (issuing CA first, root last) under
// password. modern selects the AES form instead of the legacy default.
func Encode(key crypto.PrivateKey, leaf *x509.Certificate, chain []*x509.Certificate, password string, modern bool) ([]byte, error) {
	if err := CheckPassword(password); err != nil {
		return nil, err
	}
	if leaf == nil || key == nil {
		return nil, errors.New("p12: a key and a certificate are needed")
	}
	enc := legacy
	if modern {
		enc = modernEnc
	}
	b, err := enc.Encode(key, leaf, chain, password)
	if err != nil {
		return nil, fmt.Errorf("encode p12: %w", err)
	}
	return b, nil
}

// CheckPassword refuses empty and non-ASCII passwords (see the package doc).
func CheckPassword(pw string) error {
	if pw == "" {
		return errors.New("the p12 password is empty: Android and macOS cannot import such a file")
	}
	for i := 0; i < len(pw); i++ {
		if pw[i] < 0x20 || pw[i] > 0x7e {
			return errors.New("the p12 password must be printable ASCII (keytool and some phones reject other characters)")
		}
	}
	return nil
}

// Decode reads a bundle back (for checks and tests): key, leaf and chain.
func Decode(data []byte, password string) (crypto.PrivateKey, *x509.Certificate, []*x509.Certificate, error) {
	k, c, chain, err := pkcs12.DecodeChain(data, password)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("decode p12: %w", err)
	}
	return k, c, chain, nil
}

// alphabet has no look-alikes (0/O, 1/l/I) so that a password read off a
// screen can be typed into a phone.
const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"

// PasswordLen is the length of [RandomPassword]: 24 characters of a
// 56-letter alphabet are about 139 bits.
const PasswordLen = 24

// RandomPassword returns a new random ASCII password.
func RandomPassword() (string, error) {
	b := make([]byte, PasswordLen)
	out := make([]byte, 0, PasswordLen)
	for len(out) < PasswordLen {
		if _, err := rand.Read(b); err != nil {
			return "", fmt.Errorf("random password: %w", err)
		}
		for _, c := range b {
			// 224 = 4*56: reject the tail so every letter is equally likely.
			if c < 224 && len(out) < PasswordLen {
				out = append(out, alphabet[int(c)%len(alphabet)])
			}
		}
	}
	return string(out), nil
}

// pbes2 is the DER encoding of the PBES2 object identifier
// (1.2.840.113549.1.5.13), which only the modern form uses.
var pbes2 = []byte{0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x05, 0x0d}

// IsModern reports whether a bundle uses the modern (PBES2, AES) form, so
// that one rewritten keeps the format its device imported.
func IsModern(data []byte) bool {
	return bytes.Contains(data, pbes2)
}
