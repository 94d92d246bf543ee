package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"
)

// guardedListener is a TCP or TLS listener for mochi that closes what mochi
// leaves open: every accepted socket gets a deadline that covers the TLS
// handshake and the CONNECT packet (mochi arms its keepalive deadline only
// after CONNECT), the handshake runs in the connection's own goroutine with
// that deadline so that its failure is logged with the reason, and
// max_connections is enforced before mochi sees the socket.
type guardedListener struct {
	id       string
	network  net.Listener
	tls      *tls.Config // nil for plain TCP
	deadline time.Duration
	max      int64 // -1: no limit
	// maxPacket is the broker's maximum packet size (see frameConn).
	maxPacket uint32
	active    atomic.Int64
	log       *slog.Logger
	closed    atomic.Bool
	wg        sync.WaitGroup
	// stopClients closes this listener's clients at shutdown. It replaces
	// mochi's CloseFn, whose Clients.GetByListener takes a lock twice and
	// can deadlock while clients come and go.
	stopClients func(id string)
	// onHandshakeFailure, when set, counts failed handshakes.
	onHandshakeFailure func()
	// settle, when set, finishes a connection mochi returned from with
	// its session unfinished (unanswered.go), and reports whether it did.
	settle func(net.Conn, error) bool
}

var _ listeners.Listener = (*guardedListener)(nil)

func newGuardedListener(id string, l net.Listener, tc *tls.Config, deadline time.Duration, max int, log *slog.Logger) *guardedListener {
	return &guardedListener{id: id, network: l, tls: tc, deadline: deadline, max: int64(max), log: log}
}

func (l *guardedListener) ID() string      { return l.id }
func (l *guardedListener) Address() string { return l.network.Addr().String() }
func (l *guardedListener) Protocol() string {
	if l.tls != nil {
		return "tls"
	}
	return "tcp"
}

func (l *guardedListener) Init(*slog.Logger) error { return nil }

// Serve accepts connections until the listener is closed.
func (l *guardedListener) Serve(establish listeners.EstablishFn) {
	for {
		c, err := l.network.Accept()
		if err != nil {
			if !l.closed.Load() && !errors.Is(err, net.ErrClosed) {
				l.log.Error("accept failed", "listener", l.id, "error", err)
			}
			return
		}
		if l.closed.Load() {
			c.Close()
			return
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			l.handle(c, establish)
		}()
	}
}

func (l *guardedListener) handle(c net.Conn, establish listeners.EstablishFn) {
	remote := c.RemoteAddr().String()
	if n := l.active.Add(1); l.max >= 0 && n > l.max {
		l.active.Add(-1)
		l.log.Warn("Connection from " + remote + " refused: max_connections reached on listener " + l.id)
		c.Close()
		return
	}
	defer l.active.Add(-1)
	l.log.Debug("New connection from " + remote + " on listener " + l.id + ".")
	// The deadline covers the TLS handshake and the CONNECT packet; mochi
	// replaces it with its keepalive deadline once CONNECT is read.
	_ = c.SetDeadline(time.Now().Add(l.deadline))
	if l.tls != nil {
		sc := &sentConn{Conn: c}
		tc := tls.Server(sc, l.tls)
		ctx, cancel := context.WithTimeout(context.Background(), l.deadline)
		err := tc.HandshakeContext(ctx)
		cancel()
		var ne net.Error
		if err != nil && !sc.sent && !(errors.As(err, &ne) && ne.Timeout()) {
			// a port probe (a health check, a scanner) closed or reset
			// the socket: it tried no handshake to fail
			l.log.Info("Client <unknown> from " + remote + " closed before sending anything.")
			tc.Close()
			return
		}
		if err != nil {
			l.log.Warn("Client <unknown> from " + remote + " refused: TLS handshake: " + handshakeReason(err))
			// a socket left idle until the deadline sent no handshake to fail
			if l.onHandshakeFailure != nil && sc.sent {
				l.onHandshakeFailure()
			}
			tc.Close()
			return
		}
		c = newTLSConn(tc)
	}
	fc := newFrameConn(c, l.maxPacket)
	endEstablish(l.log, remote, fc, establish(l.id, fc), l.settle)
}

// sentConn notes whether the peer sent anything, so that a connection
// closed (or left idle) before its first byte is not counted as a failed
// TLS handshake. Reads happen on one goroutine at a time: the handshake's,
// then mochi's.
type sentConn struct {
	net.Conn
	sent bool
}

func (c *sentConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && !c.sent {
		c.sent = true
	}
	return n, err
}

// endEstablish ends the connection c that mochi has returned from with
// err: settle (when set) finishes a session mochi left unfinished and logs
// it; any other end is logged by logEstablish.
func endEstablish(log *slog.Logger, remote string, c net.Conn, err error, settle func(net.Conn, error) bool) {
	if settle != nil && settle(c, err) {
		return
	}
	logEstablish(log, remote, err)
}

// logEstablish logs why mochi ended a connection, louder for a refused
// CONNECT than for an ordinary close.
func logEstablish(log *slog.Logger, remote string, err error) {
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		log.Debug("Client <unknown> from " + remote + " closed before CONNECT.")
	case errors.Is(err, packets.ErrPacketTooLarge):
		log.Warn("Client <unknown> from " + remote + " refused: packet larger than max_packet_size.")
	case errors.Is(err, packets.ErrProtocolViolation), strings.HasPrefix(err.Error(), "read connection"):
		log.Warn("Client <unknown> from " + remote + " refused: " + err.Error() + ".")
	default:
		log.Debug("Client from "+remote+" closed", "error", err.Error())
	}
}

// handshakeReason words a handshake error for the log.
func handshakeReason(err error) string {
	var ce *tls.CertificateVerificationError
	if errors.As(err, &ce) {
		return "certificate verify failed: " + ce.Err.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "no handshake before the deadline"
	}
	return err.Error()
}

// Close stops accepting and closes the live clients of this listener.
func (l *guardedListener) Close(closeClients listeners.CloseFn) {
	if l.closed.CompareAndSwap(false, true) {
		l.network.Close()
		if l.stopClients != nil {
			l.stopClients(l.id)
		} else {
			closeClients(l.id)
		}
	}
}
