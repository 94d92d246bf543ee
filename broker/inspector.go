package broker

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"mqtls/dynsec"
	"mqtls/inspector"
	"mqtls/topic"
)

// StartInspector starts the live topic inspector of `inspector ADDR`: the
// tap on every message, and the page, /metrics (with `metrics true`) and
// /healthz on ADDR. Call it after New and before Start, so that the tap sees
// the retained messages restored from storage. It returns a func that stops
// the page; with no `inspector` option it does nothing.
//
// On a loopback address the page asks for no login. Anywhere else it asks for
// a dynsec client whose roles grant $CONTROL/dynamic-security/#, or accepts a
// client certificate that the first TLS listener's cafile verifies; the page
// is then served over TLS with that listener's certificate when there is one.
func (b *Broker) StartInspector() (stop func() error, err error) {
	nop := func() error { return nil }
	addr := b.cfg.Inspector
	if addr == "" {
		if b.cfg.Metrics {
			return nop, errors.New("metrics true needs an inspector address to serve /metrics on: add a line such as \"inspector 127.0.0.1:8088\"")
		}
		return nop, nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nop, fmt.Errorf("inspector %s: %w", addr, err)
	}
	local := isLoopback(host)
	authz := b.Authorizer()
	if !local && authz == nil {
		return nop, fmt.Errorf("inspector %s is not a loopback address, so its page needs a login, but no password_file, acl_file or dynamic security plugin is configured to check it against; bind it to 127.0.0.1 or configure access control", addr)
	}
	opts := inspector.Options{
		MaxTopics:     b.cfg.InspectorMaxTopics,
		MaxBytes:      int64(b.cfg.InspectorMaxBytes),
		PayloadBytes:  b.cfg.InspectorPayloadBytes,
		History:       b.cfg.InspectorHistory,
		RequireLogin:  !local,
		Metrics:       b.cfg.Metrics,
		MetricsPublic: b.cfg.MetricsPublic,
		CRLUpdated:    b.CRLUpdated,
		Collectors:    b.collectors(),
		Bridges:       b.inspectorBridges,
		Logger:        b.log,
	}
	if b.cfg.TopicScheme != "" && b.cfg.TopicSchemeMode != "log" {
		// the broker's scheme check skips the page's publishes (they come
		// from its inline client): the page checks them itself
		s, err := topic.LoadScheme(b.cfg.TopicScheme)
		if err != nil {
			return nop, fmt.Errorf("inspector: topic_scheme: %w", err)
		}
		opts.Scheme = s
	}
	if store, ok := authz.(*dynsec.Store); ok {
		opts.Roles = func(user string) []string { return dynsecRoles(store, user) }
		opts.Control = b.ControlRequest
		opts.Explain = func(user, clientID, topic string, access dynsec.Access) (bool, string) {
			e := store.Explain(user, clientID, topic, access)
			return e.Allow, e.String()
		}
		if b.cfg.EnrollPKI != "" {
			// the Access view shows whether each client has a certificate
			pki, err := newPKIStatus(b.cfg.EnrollPKI)
			if err != nil {
				b.log.Warn(fmt.Sprintf("Inspector: enroll_pki %s cannot be read (%v): the Access view shows no certificates.", b.cfg.EnrollPKI, err))
			} else {
				opts.CertStatus = func(cns []string) (map[string]string, error) { return pki.States(cns, time.Now()) }
			}
		}
	}
	insp, err := inspector.New(b.server, authz, opts)
	if err != nil {
		return nop, err
	}
	if err := b.addHook(insp.Hook(), nil); err != nil {
		return nop, fmt.Errorf("add inspector hook: %w", err)
	}
	b.SetObserver(Observer{HandshakeFailure: insp.NoteTLSHandshakeFailure, ACLDenial: insp.NoteACLDenial})
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nop, fmt.Errorf("inspector: %w", err)
	}
	srv := &http.Server{
		Handler:           insp.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		// no WriteTimeout: the page's update stream stays open
	}
	scheme := "http"
	if !local {
		tc, err := b.inspectorTLS()
		if err != nil {
			ln.Close()
			return nop, err
		}
		if tc != nil {
			ln = tls.NewListener(ln, tc)
			scheme = "https"
		} else {
			b.log.Warn("Inspector on " + addr + " uses plain HTTP: its login travels in clear text; configure a TLS listener (certfile, keyfile) to serve it over HTTPS.")
		}
	}
	// Serve once the broker runs: the tap then holds the restored retained
	// messages, and the listeners' CRLs are loaded. Until then connections
	// wait in the listen queue.
	stopped := make(chan struct{})
	go func() {
		select {
		case <-insp.Started():
		case <-stopped:
			ln.Close()
			return
		}
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			b.log.Error("inspector: " + err.Error())
		}
	}()
	b.log.Info(fmt.Sprintf("Inspector on %s://%s/ (%s).", scheme, ln.Addr(), map[bool]string{true: "loopback, no login", false: "login required"}[local]))
	var once sync.Once
	return func() error {
		once.Do(func() { close(stopped) })
		return srv.Close()
	}, nil
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// inspectorTLS is the page's TLS config when it listens beyond loopback: the
// first TLS listener's certificate, and its cafile (and crlfile) to verify
// client certificates when a browser offers one.
func (b *Broker) inspectorTLS() (*tls.Config, error) {
	for _, ls := range b.order {
		cl := ls.conf
		if cl.CertFile == "" || cl.KeyFile == "" {
			continue
		}
		cert, err := tls.LoadX509KeyPair(cl.CertFile, cl.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("inspector TLS from listener %d: %w", cl.Port, err)
		}
		tc := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		if cl.CAFile != "" {
			pool, _, err := loadCAs(cl.CAFile)
			if err != nil {
				return nil, fmt.Errorf("inspector TLS from listener %d: %w", cl.Port, err)
			}
			tc.ClientCAs = pool
			tc.ClientAuth = tls.VerifyClientCertIfGiven
			// the listener's CRL checker exists once the broker runs, which
			// is before the page serves (see StartInspector)
			tc.VerifyConnection = func(cs tls.ConnectionState) error {
				if ls.crl == nil || len(cs.VerifiedChains) == 0 {
					return nil
				}
				return ls.crl.check(cs.VerifiedChains)
			}
		}
		return tc, nil
	}
	return nil, nil
}

// dynsecRoles lists a client's roles, then its groups as "group:NAME".
func dynsecRoles(store *dynsec.Store, user string) []string {
	c, err := store.Client(user)
	if err != nil {
		return nil
	}
	var out []string
	for _, r := range c.Roles {
		out = append(out, r.Role)
	}
	for _, g := range c.Groups {
		out = append(out, "group:"+g.Group)
	}
	return out
}
