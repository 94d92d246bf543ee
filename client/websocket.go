package client

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// dialWS opens MQTT over WebSockets (subprotocol "mqtt", binary frames),
// with TLS (wss) when o.TLS is set.
func dialWS(ctx context.Context, o *Options, nd *net.Dialer) (net.Conn, error) {
	scheme := "ws"
	var cfg *tls.Config
	if o.TLS != nil {
		scheme = "wss"
		var err error
		if cfg, err = tlsConfig(o.TLS, o.Host); err != nil {
			return nil, err
		}
	}
	path := o.WebSocketPath
	if path == "" {
		path = "/mqtt"
	}
	u := url.URL{Scheme: scheme, Host: net.JoinHostPort(o.Host, strconv.Itoa(o.Port)), Path: path}
	d := websocket.Dialer{
		NetDialContext:   nd.DialContext,
		TLSClientConfig:  cfg,
		Subprotocols:     []string{"mqtt"},
		HandshakeTimeout: o.Timeout,
	}
	ws, resp, err := d.DialContext(ctx, u.String(), nil)
	if err != nil {
		var ne *net.OpError
		if errors.As(err, &ne) && ne.Op == "dial" {
			return nil, &DialError{Addr: u.Host, Err: err}
		}
		if cfg != nil && !errors.Is(err, websocket.ErrBadHandshake) {
			return nil, explainTLS(err, o.Host)
		}
		if resp != nil {
			return nil, fmt.Errorf("websocket %s: the server answered %s (is it an MQTT WebSocket listener?)", u.String(), resp.Status)
		}
		return nil, fmt.Errorf("websocket %s: %w", u.String(), err)
	}
	return &wsConn{ws: ws}, nil
}

// wsConn is a WebSocket as the byte stream MQTT libraries read and write:
// each Write is one binary message; reads run across message boundaries.
type wsConn struct {
	ws  *websocket.Conn
	r   io.Reader // the message being read
	wmu sync.Mutex
}

var _ net.Conn = (*wsConn)(nil)

func (c *wsConn) Read(b []byte) (int, error) {
	for {
		if c.r == nil {
			t, r, err := c.ws.NextReader()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					return 0, io.EOF
				}
				return 0, err
			}
			if t != websocket.BinaryMessage {
				continue
			}
			c.r = r
		}
		n, err := c.r.Read(b)
		if err == io.EOF {
			c.r = nil
			if n == 0 {
				continue
			}
			err = nil
		}
		return n, err
	}
}

func (c *wsConn) Write(b []byte) (int, error) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.ws.WriteMessage(websocket.BinaryMessage, b); err != nil {
		return 0, err
	}
	return len(b), nil
}

func (c *wsConn) Close() error {
	c.wmu.Lock()
	c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
	c.wmu.Unlock()
	return c.ws.Close()
}

func (c *wsConn) LocalAddr() net.Addr                { return c.ws.LocalAddr() }
func (c *wsConn) RemoteAddr() net.Addr               { return c.ws.RemoteAddr() }
func (c *wsConn) SetDeadline(t time.Time) error      { return c.ws.NetConn().SetDeadline(t) }
func (c *wsConn) SetReadDeadline(t time.Time) error  { return c.ws.SetReadDeadline(t) }
func (c *wsConn) SetWriteDeadline(t time.Time) error { return c.ws.SetWriteDeadline(t) }
