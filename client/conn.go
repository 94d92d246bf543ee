package client

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync"
	"syscall"

	"mqtls/topic"
)

// backend is one MQTT library behind a Conn.
type backend interface {
	publish(ctx context.Context, m Message) (byte, error)
	subscribe(ctx context.Context, subs []Subscription) ([]byte, error)
	unsubscribe(ctx context.Context, filters []string) error
	disconnect() error
	done() <-chan struct{}
	// ended says why the connection ended: nil while it is up or when
	// disconnect ended it, else a *SessionError.
	ended() error
	clientID() string
}

// Conn is a connected MQTT client.
type Conn struct {
	opts Options
	be   backend
	tr   *tracer

	mu     sync.Mutex
	routes []route

	closeOnce sync.Once
	closeErr  error
}

type route struct {
	filter string
	h      Handler
}

// Connect dials the broker, does the TLS handshake if asked, and sends
// CONNECT. It returns when the broker accepted the connection. A refusal is a
// *ConnackError, a TLS failure a *TLSError, a failed dial a *DialError.
func Connect(ctx context.Context, o Options) (*Conn, error) {
	opts, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.Version == V31 && opts.ClientID == "" {
		// MQTT 3.1 brokers need an id; libmosquitto makes "mosq-" and 18 random characters.
		opts.ClientID = "mosq-" + randomID(18)
	}
	if opts.halt == nil {
		opts.halt = &halt{}
	}
	c := &Conn{opts: opts}
	if opts.Debug != nil {
		c.tr = newTracer(opts.Version, opts.Debug, c.route, opts.halt)
		c.tr.subscribed = opts.DebugSubscribed
		c.tr.stopAtSuback = opts.stopAtSuback
		c.tr.subscribeFirst = opts.subscribeFirst
	}
	nc, err := dial(ctx, &opts)
	if err != nil {
		c.stopTrace()
		return nil, err
	}
	var sniff *sniffConn
	if opts.TLS == nil && !opts.WebSocket {
		sniff = &sniffConn{Conn: nc}
		nc = sniff
	}
	if c.tr != nil {
		nc = &tap{Conn: nc, tr: c.tr}
	}
	if opts.Version == V5 {
		c.be, err = connect5(ctx, nc, &opts, c.onMessage)
	} else {
		c.be, err = connect3(ctx, nc, &opts, c.onMessage)
	}
	if err != nil {
		nc.Close()
		c.stopTrace()
		var ce *ConnackError
		if sniff != nil && !errors.As(err, &ce) {
			if terr := sniff.tlsPort(err); terr != nil {
				return nil, terr
			}
		}
		return nil, classify(err, &opts)
	}
	return c, nil
}

func (c *Conn) stopTrace() {
	if c.tr != nil {
		c.tr.flush()
		c.tr.seq.close()
	}
}

// dial opens the TCP connection and, with TLS options, completes the handshake.
func dial(ctx context.Context, o *Options) (net.Conn, error) {
	d := net.Dialer{Timeout: o.Timeout}
	if o.Bind != "" {
		ip := net.ParseIP(o.Bind)
		if ip == nil {
			ips, err := net.DefaultResolver.LookupIP(ctx, "ip", o.Bind)
			if err != nil || len(ips) == 0 {
				return nil, fmt.Errorf("bind address %q: not an address of this machine", o.Bind)
			}
			ip = ips[0]
		}
		d.LocalAddr = &net.TCPAddr{IP: ip}
	}
	if o.WebSocket {
		return dialWS(ctx, o, &d)
	}
	network, addr := "tcp", net.JoinHostPort(o.Host, strconv.Itoa(o.Port))
	if o.Unix != "" {
		network, addr = "unix", o.Unix
	}
	nc, err := d.DialContext(ctx, network, addr)
	if err != nil {
		return nil, &DialError{Addr: addr, Err: err}
	}
	if o.TLS == nil {
		return nc, nil
	}
	cfg, err := tlsConfig(o.TLS, o.Host)
	if err != nil {
		nc.Close()
		return nil, err
	}
	tc := tls.Client(nc, cfg)
	hctx, cancel := context.WithTimeout(ctx, o.Timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		nc.Close()
		if m := plainPort(err); m != "" {
			return nil, &TLSError{err: err, msg: m}
		}
		return nil, explainTLS(err, o.Host)
	}
	return tc, nil
}

// plainPort recognises a TLS handshake with a port that speaks plain MQTT:
// its answer is an MQTT packet rather than a TLS record, or (an MQTT broker
// takes the ClientHello for a bad CONNECT) it closes the connection at once.
func plainPort(err error) string {
	const fix = "drop --cafile and the other TLS options, or connect to the broker's TLS port (often 8883)"
	var rh tls.RecordHeaderError
	if errors.As(err, &rh) && rh.RecordHeader[0]&0xf0 >= 0x10 && rh.RecordHeader[0] < 0xf1 {
		return "tls: this port speaks plain MQTT, not TLS (it answered the handshake with an MQTT packet): " + fix
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET) {
		return "tls: the broker closed the connection during the TLS handshake: this port most likely speaks plain MQTT: " + fix
	}
	return ""
}

// sniffConn notes whether the broker sent anything and its first byte, so
// that a plain connection to a TLS port can be told from other failures.
type sniffConn struct {
	net.Conn
	mu    sync.Mutex
	got   bool
	first byte
}

func (s *sniffConn) Read(p []byte) (int, error) {
	n, err := s.Conn.Read(p)
	if n > 0 {
		s.mu.Lock()
		if !s.got {
			s.got, s.first = true, p[0]
		}
		s.mu.Unlock()
	}
	return n, err
}

// tlsPort says whether the broker's answer to a plain CONNECT shows a TLS
// port: a TLS record (alert or handshake) instead of a CONNACK, or nothing
// at all (a TLS server takes the CONNECT for a bad ClientHello and closes).
func (s *sniffConn) tlsPort(err error) error {
	s.mu.Lock()
	got, first := s.got, s.first
	s.mu.Unlock()
	const fix = "connect with TLS (--cafile FILE, and --cert/--key or --p12 when the broker asks for a client certificate), or to its plain port (often 1883)"
	switch {
	case got && (first == 0x15 || first == 0x16):
		return fmt.Errorf("this port speaks TLS, not plain MQTT (it answered with a TLS record): %s", fix)
	case !got && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, syscall.ECONNRESET)):
		return fmt.Errorf("the broker closed the connection without answering the CONNECT: this port most likely speaks TLS: %s", fix)
	}
	return nil
}

// classify names the errors that happen after the TCP connection is up.
func classify(err error, o *Options) error {
	var ce *ConnackError
	if errors.As(err, &ce) {
		return err
	}
	if o.TLS != nil {
		if _, ok := remoteAlert(err); ok {
			// TLS 1.3: the broker's verdict on our certificate comes after the handshake.
			return explainTLS(err, o.Host)
		}
		if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return &TLSError{err: err, msg: "tls: the broker closed the connection right after the handshake: it most likely refused the client certificate (check --cert/--key or --p12 are issued by the broker's CA and not revoked)"}
		}
	}
	return err
}

// onMessage is the libraries' message callback.
func (c *Conn) onMessage(m Message) {
	if c.tr != nil {
		c.tr.seq.arrive(m)
		return
	}
	c.route(m)
}

// route hands m to the handlers whose filter matches its topic; when none
// does, to Options.OnMessage or else the latest handler (a message the broker
// routed by a since-removed subscription, say).
func (c *Conn) route(m Message) {
	if c.opts.halt.stopped() {
		return
	}
	c.mu.Lock()
	var hs []Handler
	for _, r := range c.routes {
		f := r.filter
		if _, inner, ok := topic.SplitShared(f); ok {
			f = inner
		}
		if topic.Match(f, m.Topic) {
			hs = append(hs, r.h)
		}
	}
	if len(hs) == 0 {
		switch {
		case c.opts.OnMessage != nil:
			hs = append(hs, c.opts.OnMessage)
		case len(c.routes) > 0:
			hs = append(hs, c.routes[len(c.routes)-1].h)
		}
	}
	c.mu.Unlock()
	for _, h := range hs {
		h(m)
	}
}

// Publish sends m and, for QoS 1 and 2, waits for the broker's
// acknowledgement. A refusal (MQTT 5 reason code 0x80 or more) is a
// *ReasonError.
func (c *Conn) Publish(ctx context.Context, m Message) error {
	if err := topic.ValidName(m.Topic); err != nil {
		return fmt.Errorf("publish to %q: %w", m.Topic, err)
	}
	if m.QoS > 2 {
		return fmt.Errorf("publish to %q: qos %d is not 0, 1 or 2", m.Topic, m.QoS)
	}
	code, err := c.be.publish(ctx, m)
	if err != nil {
		return fmt.Errorf("publish to %q: %w", m.Topic, err)
	}
	if code >= 0x80 {
		return &ReasonError{Packet: "PUBACK", Code: code, Version: c.opts.Version}
	}
	return nil
}

// Subscribe registers h for the filters, sends one SUBSCRIBE and returns the
// granted QoS or reason code of each filter (0x80 or more: refused). h is
// registered before the SUBSCRIBE goes out, so retained messages are not missed.
func (c *Conn) Subscribe(ctx context.Context, subs []Subscription, h Handler) ([]byte, error) {
	if len(subs) == 0 {
		return nil, errors.New("subscribe: no filter given")
	}
	for _, s := range subs {
		if err := topic.ValidFilter(s.Filter); err != nil {
			return nil, fmt.Errorf("subscribe to %q: %w", s.Filter, err)
		}
		if s.QoS > 2 {
			return nil, fmt.Errorf("subscribe to %q: qos %d is not 0, 1 or 2", s.Filter, s.QoS)
		}
	}
	if h != nil {
		c.mu.Lock()
		for _, s := range subs {
			c.routes = append(c.routes, route{filter: s.Filter, h: h})
		}
		c.mu.Unlock()
	}
	codes, err := c.be.subscribe(ctx, subs)
	if err != nil {
		return codes, fmt.Errorf("subscribe: %w", err)
	}
	return codes, nil
}

// Unsubscribe sends one UNSUBSCRIBE for the filters and waits for the UNSUBACK.
func (c *Conn) Unsubscribe(ctx context.Context, filters ...string) error {
	if len(filters) == 0 {
		return nil
	}
	if err := c.be.unsubscribe(ctx, filters); err != nil {
		return fmt.Errorf("unsubscribe: %w", err)
	}
	c.mu.Lock()
	kept := c.routes[:0]
	for _, r := range c.routes {
		drop := false
		for _, f := range filters {
			drop = drop || r.filter == f
		}
		if !drop {
			kept = append(kept, r)
		}
	}
	c.routes = kept
	c.mu.Unlock()
	return nil
}

// Close sends DISCONNECT and closes the connection. Debug lines and
// deliveries still queued are flushed before it returns.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.closeErr = c.be.disconnect()
		c.stopTrace()
	})
	return c.closeErr
}

// Done is closed when the connection ends, by Close or because it was lost.
func (c *Conn) Done() <-chan struct{} { return c.be.done() }

// Err says why the connection ended when the client did not end it: a
// *SessionError (the broker's DISCONNECT and its reason, or the connection
// closing). It is nil while the connection is up and after Close.
func (c *Conn) Err() error {
	select {
	case <-c.be.done():
		return c.be.ended()
	default:
		return nil
	}
}

// ClientID is the client id in use: the one given, or the one the broker assigned.
func (c *Conn) ClientID() string { return c.be.clientID() }

// Version is the MQTT protocol version in use (V5, V311 or V31).
func (c *Conn) Version() byte { return c.opts.Version }

const idChars = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

func randomID(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	for i := range b {
		b[i] = idChars[int(b[i])%len(idChars)]
	}
	return string(b)
}
