package broker

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"

	"mqtls/conf"
)

// tlsConfig builds the server side of a TLS listener: certfile (which may
// hold the chain after the leaf) and keyfile, cafile to verify client
// certificates, TLS 1.2 minimum, and the CRL check.
func tlsConfig(l *conf.Listener, crl *crlChecker) (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(l.CertFile, l.KeyFile)
	if err != nil {
		return nil, fmt.Errorf("listener %d: load certfile %s and keyfile %s: %w", l.Port, l.CertFile, l.KeyFile, err)
	}
	tc := &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
	}
	if l.TLSVersion == "tlsv1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if l.CAFile != "" {
		pool, _, err := loadCAs(l.CAFile)
		if err != nil {
			return nil, fmt.Errorf("listener %d: %w", l.Port, err)
		}
		tc.ClientCAs = pool
		tc.ClientAuth = tls.VerifyClientCertIfGiven
		if l.RequireCertificate {
			tc.ClientAuth = tls.RequireAndVerifyClientCert
		}
	}
	if crl != nil {
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			return crl.check(cs.VerifiedChains)
		}
	}
	return tc, nil
}

// loadCAs reads the PEM certificates of a cafile.
func loadCAs(path string) (*x509.CertPool, []*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("read cafile: %w", err)
	}
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, nil, fmt.Errorf("cafile %s: %w", path, err)
		}
		pool.AddCert(c)
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("cafile %s holds no PEM certificate", path)
	}
	return pool, certs, nil
}

// connState returns the TLS state of a client connection: a *tls.Conn on
// TLS listeners, our wsConn on WebSocket listeners.
func connState(c any) (tls.ConnectionState, bool) {
	sc, ok := c.(interface{ ConnectionState() tls.ConnectionState })
	if !ok {
		return tls.ConnectionState{}, false
	}
	st := sc.ConnectionState()
	return st, st.HandshakeComplete
}

// identity is the username a verified client certificate gives: its CN, or
// with subject true its whole subject in RFC 2253 form (as Mosquitto's
// use_subject_as_username: "CN=dev2,O=Acme").
func identity(st tls.ConnectionState, subject bool) (string, error) {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return "", errors.New("no verified client certificate")
	}
	leaf := st.VerifiedChains[0][0]
	if subject {
		return leaf.Subject.String(), nil
	}
	cn := leaf.Subject.CommonName
	if cn == "" {
		return "", errors.New("client certificate has no CN")
	}
	return cn, nil
}
