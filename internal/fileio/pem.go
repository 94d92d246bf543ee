package fileio

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// MaxPEM bounds a PEM file of certificates, keys or CRLs: real ones are a
// few KiB (a CRL of a large fleet a few MiB).
const MaxPEM = 16 << 20

// Blocks returns the DER bytes of every PEM block of type typ in data, in
// order; other blocks and text between them are skipped.
func Blocks(data []byte, typ string) [][]byte {
	var out [][]byte
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return out
		}
		if b.Type == typ {
			out = append(out, b.Bytes)
		}
	}
}

// ParseCerts reads every CERTIFICATE block of a PEM file. It names the
// likely mistake when the file holds a key instead.
func ParseCerts(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	sawKey := false
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if strings.Contains(b.Type, "PRIVATE KEY") {
			sawKey = true
			continue
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate: %w", err)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		if sawKey {
			return nil, errors.New("no certificate found, but a private key: is this the .key file instead of the .crt?")
		}
		return nil, errors.New("no PEM certificate found")
	}
	return out, nil
}

// ReadCerts reads the certificates of a PEM file of at most [MaxPEM] bytes.
// Errors name the file.
func ReadCerts(path string) ([]*x509.Certificate, error) {
	b, err := ReadFile(path, MaxPEM, "a PEM certificate file")
	if err != nil {
		return nil, err
	}
	cs, err := ParseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs, nil
}
