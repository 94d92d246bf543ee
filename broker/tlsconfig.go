package broker

import (
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"sync/atomic"

	"mqtls/certs"
	"mqtls/conf"
	"mqtls/internal/fileio"
)

// tlsConfig builds the server side of a TLS listener: certfile (which may
// hold the chain after the leaf) and keyfile, cafile to verify client
// certificates, TLS 1.2 minimum, and the CRL check.
func tlsConfig(l *conf.Listener, crl *crlChecker, kp *keyPair) (*tls.Config, error) {
	tc := &tls.Config{
		GetCertificate:   kp.get,
		MinVersion:       tls.VersionTLS12,
		CurvePreferences: curvePreferences(l.TLSKeyExchange),
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

// keyPair is a listener's certfile and keyfile, reloaded on SIGHUP as
// Mosquitto does (a renewed server certificate needs no restart).
type keyPair struct {
	port          int
	certFile, key string
	caFile        string
	cur           atomic.Pointer[tls.Certificate]
}

func newKeyPair(l *conf.Listener) (*keyPair, error) {
	kp := &keyPair{port: l.Port, certFile: l.CertFile, key: l.KeyFile, caFile: l.CAFile}
	return kp, kp.reload()
}

func (kp *keyPair) reload() error {
	certPEM, err := readOperatorFile(kp.certFile, maxPEMFile)
	var keyPEM []byte
	if err == nil {
		keyPEM, err = readOperatorFile(kp.key, maxPEMFile)
	}
	var cert tls.Certificate
	if err == nil {
		cert, err = tls.X509KeyPair(certPEM, keyPEM)
	}
	if err != nil {
		return fmt.Errorf("listener %d: load certfile %s and keyfile %s: %w", kp.port, kp.certFile, kp.key, err)
	}
	if len(cert.Certificate) == 1 && kp.caFile != "" {
		cert.Certificate = completeChain(cert.Certificate[0], kp.caFile)
	}
	kp.cur.Store(&cert)
	return nil
}

// completeChain adds to a certfile that holds only the server's leaf the
// intermediates that cafile has between it and a root, as Mosquitto's
// OpenSSL does: a client that trusts only the root can then verify the
// server. Without such a path the leaf is sent alone, as before.
func completeChain(leafDER []byte, caFile string) [][]byte {
	out := [][]byte{leafDER}
	leaf, err := x509.ParseCertificate(leafDER)
	if err != nil {
		return out
	}
	_, cas, err := loadCAs(caFile)
	if err != nil {
		return out
	}
	roots, inters := x509.NewCertPool(), x509.NewCertPool()
	for _, c := range cas {
		if bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignatureFrom(c) == nil {
			roots.AddCert(c)
		} else {
			inters.AddCert(c)
		}
	}
	chains, err := leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}})
	if err != nil || len(chains) == 0 {
		return out
	}
	// chains[0] is leaf, intermediates..., root: the root stays out, the
	// client has it.
	for _, c := range chains[0][1 : len(chains[0])-1] {
		out = append(out, c.Raw)
	}
	return out
}

func (kp *keyPair) get(*tls.ClientHelloInfo) (*tls.Certificate, error) { return kp.cur.Load(), nil }

// loadCAs reads the PEM certificates of a cafile.
func loadCAs(path string) (*x509.CertPool, []*x509.Certificate, error) {
	b, err := readOperatorFile(path, maxPEMFile)
	if err != nil {
		return nil, nil, fmt.Errorf("read cafile: %w", err)
	}
	pool := x509.NewCertPool()
	var certs []*x509.Certificate
	for _, der := range fileio.Blocks(b, "CERTIFICATE") {
		c, err := x509.ParseCertificate(der)
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

// certIdentity is the identity a client's verified certificate gives
// ([certs.Identity]), derived once, when the TLS handshake is done. Client
// connections carry it (tlsConn, wsConn), so the auth hook and the
// inspector read the same answer through its Identity method.
type certIdentity struct {
	id   certs.ClientIdentity
	err  error
	leaf *x509.Certificate
}

func newCertIdentity(st tls.ConnectionState) certIdentity {
	if len(st.VerifiedChains) == 0 || len(st.VerifiedChains[0]) == 0 {
		return certIdentity{err: errNoClientCert}
	}
	id, err := certs.Identity(st.VerifiedChains[0][0])
	return certIdentity{id: id, err: err, leaf: st.VerifiedChains[0][0]}
}

var errNoClientCert = errors.New("no verified client certificate")

// Identity returns the client's certificate identity, or why there is none.
func (c certIdentity) Identity() (certs.ClientIdentity, error) { return c.id, c.err }

// Leaf returns the client's verified certificate, nil without one.
func (c certIdentity) Leaf() *x509.Certificate { return c.leaf }

// tlsConn is a client's TLS connection with its certificate identity.
type tlsConn struct {
	*tls.Conn
	certIdentity
}

func newTLSConn(c *tls.Conn) *tlsConn {
	return &tlsConn{Conn: c, certIdentity: newCertIdentity(c.ConnectionState())}
}

// identity is the username a client connection's verified certificate
// gives: its CN, or with subject true its whole subject in RFC 2253 form
// (as Mosquitto's use_subject_as_username: "CN=dev2,O=Acme").
func identity(conn any, subject bool) (string, error) {
	ic, ok := conn.(interface {
		Identity() (certs.ClientIdentity, error)
	})
	if !ok {
		return "", errNoClientCert
	}
	id, err := ic.Identity()
	if err != nil {
		return "", err
	}
	if subject {
		return id.Subject, nil
	}
	return id.CN, nil
}
