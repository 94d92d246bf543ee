package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// wsListener serves MQTT over WebSockets (ws and wss). Unlike mochi's own
// WebSocket listener it keeps the TLS state of each connection, so that
// certificate identities work on wss exactly as on TLS, it arms the CONNECT
// deadline after the upgrade, and it enforces max_connections.
type wsListener struct {
	id        string
	network   net.Listener
	tls       *tls.Config
	deadline  time.Duration
	max       int64
	maxPacket uint32 // the broker's maximum packet size (see frameConn)
	active    atomic.Int64
	log       *slog.Logger
	srv       *http.Server
	upgrader  websocket.Upgrader
	closed    atomic.Bool
	establish listeners.EstablishFn
	mu        sync.Mutex

	stopClients func(id string)
	// onHandshakeFailure, when set, counts failed handshakes.
	onHandshakeFailure func()
	// settle: as guardedListener's.
	settle func(net.Conn, error) bool
}

// httpErrorLog passes net/http's messages (failed TLS handshakes above all)
// to the broker log and counts the handshake failures.
type httpErrorLog struct{ w *wsListener }

func (e httpErrorLog) Write(p []byte) (int, error) {
	msg := strings.TrimSpace(string(p))
	if strings.Contains(msg, "TLS handshake error") && e.w.onHandshakeFailure != nil {
		e.w.onHandshakeFailure()
	}
	e.w.log.Warn("websocket listener " + e.w.id + ": " + msg)
	return len(p), nil
}

var _ listeners.Listener = (*wsListener)(nil)

func newWSListener(id string, l net.Listener, tc *tls.Config, deadline time.Duration, max int, log *slog.Logger) *wsListener {
	w := &wsListener{id: id, network: l, tls: tc, deadline: deadline, max: int64(max), log: log}
	w.upgrader = websocket.Upgrader{
		Subprotocols:     []string{"mqtt"},
		HandshakeTimeout: deadline,
		// MQTT clients are not browsers bound by the same-origin policy;
		// the MQTT login is the access control.
		CheckOrigin: func(*http.Request) bool { return true },
	}
	w.srv = &http.Server{
		Handler:           http.HandlerFunc(w.handle),
		ReadHeaderTimeout: deadline,
		ErrorLog:          stdlog.New(httpErrorLog{w}, "", 0),
	}
	return w
}

func (w *wsListener) ID() string      { return w.id }
func (w *wsListener) Address() string { return w.network.Addr().String() }
func (w *wsListener) Protocol() string {
	if w.tls != nil {
		return "wss"
	}
	return "ws"
}
func (w *wsListener) Init(*slog.Logger) error { return nil }

func (w *wsListener) Serve(establish listeners.EstablishFn) {
	w.mu.Lock()
	w.establish = establish
	w.mu.Unlock()
	l := w.network
	if w.tls != nil {
		l = tls.NewListener(l, w.tls)
	}
	if err := w.srv.Serve(l); err != nil && !w.closed.Load() && !errors.Is(err, http.ErrServerClosed) {
		w.log.Error("websocket listener stopped", "listener", w.id, "error", err)
	}
}

func (w *wsListener) handle(rw http.ResponseWriter, r *http.Request) {
	if n := w.active.Add(1); w.max >= 0 && n > w.max {
		w.active.Add(-1)
		w.log.Warn("Connection from " + r.RemoteAddr + " refused: max_connections reached on listener " + w.id)
		http.Error(rw, "too many connections", http.StatusServiceUnavailable)
		return
	}
	defer w.active.Add(-1)
	c, err := w.upgrader.Upgrade(rw, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	_ = c.UnderlyingConn().SetDeadline(time.Now().Add(w.deadline))
	conn := &wsConn{Conn: c.UnderlyingConn(), ws: c, state: r.TLS}
	if r.TLS != nil {
		conn.certIdentity = newCertIdentity(*r.TLS)
	} else {
		conn.certIdentity = certIdentity{err: errNoClientCert}
	}
	w.mu.Lock()
	establish := w.establish
	w.mu.Unlock()
	fc := newFrameConn(conn, w.maxPacket)
	endEstablish(w.log, r.RemoteAddr, fc, establish(w.id, fc), w.settle)
}

func (w *wsListener) Close(closeClients listeners.CloseFn) {
	if w.closed.CompareAndSwap(false, true) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = w.srv.Shutdown(ctx)
		w.network.Close()
	}
	if w.stopClients != nil {
		w.stopClients(w.id)
	} else {
		closeClients(w.id)
	}
}

// wsConn carries MQTT bytes in binary WebSocket messages and exposes the TLS
// state of the connection underneath.
type wsConn struct {
	net.Conn
	ws    *websocket.Conn
	r     io.Reader
	state *tls.ConnectionState
	certIdentity
}

// ConnectionState returns the TLS state (the zero value on plain ws).
func (c *wsConn) ConnectionState() tls.ConnectionState {
	if c.state == nil {
		return tls.ConnectionState{}
	}
	return *c.state
}

func (c *wsConn) Read(p []byte) (int, error) {
	for {
		if c.r == nil {
			typ, r, err := c.ws.NextReader()
			if err != nil {
				return 0, err
			}
			if typ != websocket.BinaryMessage {
				return 0, errors.New("websocket: MQTT needs binary messages")
			}
			c.r = r
		}
		n, err := c.r.Read(p)
		if errors.Is(err, io.EOF) {
			c.r = nil
			err = nil
			if n == 0 {
				continue
			}
		}
		return n, err
	}
}

func (c *wsConn) Write(p []byte) (int, error) {
	if err := c.ws.WriteMessage(websocket.BinaryMessage, p); err != nil {
		return 0, err
	}
	return len(p), nil
}
