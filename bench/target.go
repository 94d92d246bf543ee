package bench

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"mqtls/client"
	"mqtls/internal/fileio"
)

// Target says which broker to load and how to log in to it.
type Target struct {
	// URL is the broker address: tcp://, mqtt://, ssl://, tls:// or mqtts://
	// followed by host:port.
	URL string
	// Username and Password are sent in CONNECT when Username is set.
	Username string
	Password string
	// CAFile verifies the broker's certificate (TLS URLs). Empty means the
	// system roots.
	CAFile string
	// Insecure skips verification of the broker's certificate.
	Insecure bool
	// CertFile and KeyFile are one client certificate for mutual TLS.
	CertFile string
	KeyFile  string
	// CertDir holds client certificates for mutual TLS (NAME.crt with
	// NAME.key, or NAME.pem holding both); connections cycle through them.
	CertDir string
	// ConnectTimeout bounds one connect (default 10s).
	ConnectTimeout time.Duration

	// base holds what every connection shares, in package client's terms.
	base  client.Options
	certs []tls.Certificate
}

// isTLS reports whether the URL's scheme asks for TLS.
func isTLS(u *url.URL) bool {
	switch u.Scheme {
	case "ssl", "tls", "mqtts", "tcps":
		return true
	}
	return false
}

// prepare checks the target and loads its TLS material once. The
// connections themselves are package client's, as for pub and sub.
func (t *Target) prepare() error {
	if t.URL == "" {
		return errors.New("no broker url: give one like tcp://127.0.0.1:1883")
	}
	u, err := url.Parse(t.URL)
	if err != nil || u.Host == "" {
		return fmt.Errorf("broker url %q: want scheme://host:port, like tcp://127.0.0.1:1883", t.URL)
	}
	switch u.Scheme {
	case "tcp", "mqtt", "ssl", "tls", "mqtts", "tcps":
	default:
		return fmt.Errorf("broker url %q: scheme %q is not one of tcp, mqtt, ssl, tls, mqtts", t.URL, u.Scheme)
	}
	if u.Port() == "" {
		return fmt.Errorf("broker url %q: no port", t.URL)
	}
	if t.ConnectTimeout == 0 {
		t.ConnectTimeout = 10 * time.Second
	}
	// client reads mqtt:// and mqtts:// URLs; the other schemes name the
	// same two transports.
	scheme := "mqtt"
	if isTLS(u) {
		scheme = "mqtts"
	}
	t.base = client.Options{Version: client.V311, KeepAlive: 300, Timeout: t.ConnectTimeout}
	if _, err := t.base.ApplyURL(scheme + "://" + u.Host); err != nil {
		return fmt.Errorf("broker url %q: %w", t.URL, err)
	}
	t.base.Username, t.base.Password = t.Username, t.Password
	tlsWanted := t.CAFile != "" || t.CertFile != "" || t.CertDir != "" || t.Insecure
	if !isTLS(u) {
		if tlsWanted {
			return fmt.Errorf("broker url %q is plain tcp but TLS options were given: use ssl://", t.URL)
		}
		return nil
	}
	if t.CAFile != "" {
		// Read now, so that a wrong path fails before any connect.
		if _, err := fileio.ReadCerts(t.CAFile); err != nil {
			return fmt.Errorf("read ca file: %w", err)
		}
	}
	t.base.TLS.CAFile = t.CAFile
	t.base.TLS.SkipVerify = t.Insecure
	if (t.CertFile == "") != (t.KeyFile == "") {
		return errors.New("a client certificate needs both a cert file and a key file")
	}
	if t.CertFile != "" {
		c, err := tls.LoadX509KeyPair(t.CertFile, t.KeyFile)
		if err != nil {
			return fmt.Errorf("load client certificate: %w", err)
		}
		t.certs = append(t.certs, c)
	}
	if t.CertDir != "" {
		cs, err := loadCertDir(t.CertDir)
		if err != nil {
			return err
		}
		t.certs = append(t.certs, cs...)
	}
	return nil
}

// loadCertDir loads every NAME.crt+NAME.key pair and every NAME.pem that
// holds both a certificate and a key, in name order.
func loadCertDir(dir string) ([]tls.Certificate, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read certificate folder: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	slices.Sort(names)
	var out []tls.Certificate
	for _, n := range names {
		p := filepath.Join(dir, n)
		switch {
		case strings.HasSuffix(n, ".crt"):
			key := strings.TrimSuffix(p, ".crt") + ".key"
			if _, err := os.Stat(key); err != nil {
				continue // a CA certificate or a cert without its key
			}
			c, err := tls.LoadX509KeyPair(p, key)
			if err != nil {
				return nil, fmt.Errorf("load %s: %w", n, err)
			}
			if clientAuth(c) {
				out = append(out, c)
			}
		case strings.HasSuffix(n, ".pem"):
			if c, err := tls.LoadX509KeyPair(p, p); err == nil && clientAuth(c) {
				out = append(out, c)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("certificate folder %s: no NAME.crt with NAME.key, nor a .pem with both", dir)
	}
	return out, nil
}

// clientAuth reports whether a certificate may log a client in: a folder
// such as a PKI's issued/ also holds server certificates, which a broker
// refuses as client certificates.
func clientAuth(c tls.Certificate) bool {
	if c.Leaf == nil || len(c.Leaf.ExtKeyUsage) == 0 {
		return true
	}
	return slices.ContainsFunc(c.Leaf.ExtKeyUsage, func(u x509.ExtKeyUsage) bool {
		return u == x509.ExtKeyUsageClientAuth || u == x509.ExtKeyUsageAny
	})
}

// CertCount is the number of client certificates loaded (after a run
// started; 0 without mutual TLS).
func (t *Target) CertCount() int { return len(t.certs) }

// tls reports whether the connections use TLS (after prepare).
func (t *Target) tls() bool { return t.base.TLS != nil }

// connect opens client number i (MQTT 3.1.1, clean session) and waits for
// its CONNACK. onLost, when set, is called when the connection ends, by
// Close too: the caller tells the two apart.
func (t *Target) connect(ctx context.Context, id string, i int, onLost func(error)) (*client.Conn, error) {
	o := t.base
	o.ClientID = id
	if o.TLS != nil {
		tlsOpts := *o.TLS
		if len(t.certs) > 0 {
			tlsOpts.Certificate = &t.certs[i%len(t.certs)]
		}
		o.TLS = &tlsOpts
	}
	c, err := client.Connect(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", id, err)
	}
	if onLost != nil {
		go func() {
			<-c.Done()
			onLost(errors.New("the broker closed the connection"))
		}()
	}
	return c, nil
}
