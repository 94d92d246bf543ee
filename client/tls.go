package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"mqtls/internal/fileio"

	"software.sslmate.com/src/go-pkcs12"
)

// maxFile bounds the certificate, key and bundle files we read.
const maxFile = 4 << 20

func readSmall(path, what string) ([]byte, error) {
	b, err := fileio.ReadFile(path, maxFile, "a certificate, key or bundle file")
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", what, err)
	}
	return b, nil
}

// tlsConfig builds the client TLS configuration for host.
func tlsConfig(o *TLSOptions, host string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: o.ALPN}
	switch strings.ToLower(o.Version) {
	case "", "tlsv1.2":
	case "tlsv1.3":
		cfg.MinVersion = tls.VersionTLS13
	case "tlsv1.1":
		cfg.MinVersion = tls.VersionTLS11
	default:
		return nil, fmt.Errorf("unknown tls version %q: use tlsv1.3, tlsv1.2 or tlsv1.1", o.Version)
	}
	if o.CAFile != "" || o.CAPath != "" {
		pool := x509.NewCertPool()
		if o.CAFile != "" {
			b, err := readSmall(o.CAFile, "cafile")
			if err != nil {
				return nil, err
			}
			if !pool.AppendCertsFromPEM(b) {
				return nil, fmt.Errorf("cafile %s holds no PEM certificate", o.CAFile)
			}
		}
		if o.CAPath != "" {
			if err := addCAPath(pool, o.CAPath); err != nil {
				return nil, err
			}
		}
		cfg.RootCAs = pool
	}
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("both --cert and --key must be given, or neither")
	}
	if o.CertFile != "" && o.P12File != "" {
		return nil, errors.New("give either --cert/--key or --p12, not both")
	}
	if o.CertFile != "" {
		c, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("load client certificate %s and key %s: %w", o.CertFile, o.KeyFile, err)
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	if o.Certificate != nil {
		cfg.Certificates = []tls.Certificate{*o.Certificate}
	}
	if o.P12File != "" {
		c, err := loadP12(o.P12File, o.P12Password)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{c}
	}
	cfg.ServerName = host
	if o.ServerName != "" {
		cfg.ServerName = o.ServerName
	}
	// The chain is verified here rather than by crypto/tls, for two
	// Mosquitto behaviours: --insecure skips the name check only, and a
	// certificate without subject alternative names is matched on its CN, as
	// OpenSSL does (the seed's openssl recipes make such certificates; Go
	// alone refuses them). The latter comes with a warning.
	roots, name, insecure, warn := cfg.RootCAs, cfg.ServerName, o.Insecure, o.Warn
	cfg.InsecureSkipVerify = true
	if o.SkipVerify {
		return cfg, nil
	}
	cfg.VerifyConnection = func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errors.New("the broker sent no certificate")
		}
		leaf := cs.PeerCertificates[0]
		inter := x509.NewCertPool()
		for _, c := range cs.PeerCertificates[1:] {
			inter.AddCert(c)
		}
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter}); err != nil {
			return err
		}
		if insecure {
			return nil
		}
		err := leaf.VerifyHostname(name)
		if err == nil {
			return nil
		}
		if len(leaf.DNSNames) == 0 && len(leaf.IPAddresses) == 0 && strings.EqualFold(leaf.Subject.CommonName, name) {
			if warn != nil {
				warn(fmt.Sprintf("the broker's certificate names %q in its CN only, which mosquitto accepts but browsers and most TLS libraries refuse: re-issue it with the name as a subject alternative name (mqtls cert server --host %s)", name, name))
			}
			return nil
		}
		return err
	}
	return cfg, nil
}

// addCAPath adds every PEM certificate found in the files of dir.
func addCAPath(pool *x509.CertPool, dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read capath: %w", err)
	}
	n := 0
	for _, e := range ents {
		if e.IsDir() {
			continue
		}
		b, err := readSmall(filepath.Join(dir, e.Name()), "capath file")
		if err != nil {
			continue
		}
		if pool.AppendCertsFromPEM(b) {
			n++
		}
	}
	if n == 0 {
		return fmt.Errorf("capath %s holds no PEM certificate", dir)
	}
	return nil
}

// loadP12 opens a PKCS#12 bundle (legacy or modern encryption).
func loadP12(path, password string) (tls.Certificate, error) {
	b, err := readSmall(path, "p12")
	if err != nil {
		return tls.Certificate{}, err
	}
	key, cert, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		if errors.Is(err, pkcs12.ErrIncorrectPassword) {
			return tls.Certificate{}, fmt.Errorf("open p12 %s: wrong password (check --p12-password-file)", path)
		}
		return tls.Certificate{}, fmt.Errorf("open p12 %s: %w", path, err)
	}
	c := tls.Certificate{PrivateKey: key, Leaf: cert, Certificate: [][]byte{cert.Raw}}
	for _, ca := range chain {
		// The chain sent to the broker stops below the root.
		if isSelfSigned(ca) {
			continue
		}
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c, nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return c.CheckSignatureFrom(c) == nil && string(c.RawIssuer) == string(c.RawSubject)
}

// TLSError is a failed TLS handshake or a certificate the broker refused. Its
// message says, in one line, what went wrong and what to do.
type TLSError struct {
	msg string
	err error
}

func (e *TLSError) Error() string { return e.msg }
func (e *TLSError) Unwrap() error { return e.err }

// explainTLS turns a handshake error into a TLSError naming the likely mistake.
func explainTLS(err error, dialled string) error {
	var host x509.HostnameError
	if errors.As(err, &host) {
		names := certNames(host.Certificate)
		return &TLSError{err: err, msg: fmt.Sprintf(
			"tls: the broker's certificate is for %s, not %q that was dialled: connect with -h set to one of those names, or use --insecure to skip the name check",
			names, dialled)}
	}
	var ua x509.UnknownAuthorityError
	if errors.As(err, &ua) {
		issuer := "an unknown issuer"
		if ua.Cert != nil {
			issuer = fmt.Sprintf("%q", ua.Cert.Issuer.String())
		}
		return &TLSError{err: err, msg: fmt.Sprintf(
			"tls: the broker's certificate is signed by %s that is not trusted: pass the CA that signed it with --cafile", issuer)}
	}
	var inv x509.CertificateInvalidError
	if errors.As(err, &inv) {
		return &TLSError{err: err, msg: fmt.Sprintf("tls: the broker's certificate is not valid: %v", inv)}
	}
	if m, ok := remoteAlert(err); ok {
		return &TLSError{err: err, msg: fmt.Sprintf(
			"tls: the broker refused the connection (%s): check the client certificate (--cert/--key or --p12) is issued by the broker's CA and not revoked", m)}
	}
	return &TLSError{err: err, msg: fmt.Sprintf("tls: %v", strings.TrimPrefix(err.Error(), "tls: "))}
}

// remoteAlert reports a TLS alert sent by the broker ("remote error: tls: bad certificate").
func remoteAlert(err error) (string, bool) {
	if err == nil {
		return "", false
	}
	s := err.Error()
	i := strings.Index(s, "remote error: tls: ")
	if i < 0 {
		return "", false
	}
	return s[i+len("remote error: "):], true
}

func certNames(c *x509.Certificate) string {
	var names []string
	if c == nil {
		return "other names"
	}
	names = append(names, c.DNSNames...)
	for _, ip := range c.IPAddresses {
		names = append(names, ip.String())
	}
	if len(names) == 0 {
		if c.Subject.CommonName != "" {
			return fmt.Sprintf("%q (in its CN only, no subject alternative names)", c.Subject.CommonName)
		}
		return "no name at all"
	}
	return strings.Join(names, ", ")
}
