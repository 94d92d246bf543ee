// Package bridge connects the broker to a remote MQTT broker with
// Mosquitto 2.0's bridge options and meanings ([conf.Bridge]): topics in,
// out or both, with local and remote prefixes, several addresses (failover
// to the first, or round robin), the connection state published as
// "1"/"0" retained messages, and a restart with jittered backoff.
//
// # Two clients
//
// A bridge is two paho.mqtt.golang clients (two paho.golang ones with
// bridge_protocol_version mqttv50, see session5.go): the remote one, over TCP or
// mutual TLS to the remote broker, and a local one, over an in-memory
// connection that the broker gives it ([Local.Dial]). The local client is
// an ordinary session of the broker: it subscribes to the out topics,
// publishes what comes in, and is connected only while the remote one is.
//
// # Store and forward
//
// A message is acknowledged to the side it came from only once the other
// side has acknowledged it (QoS 1 and 2; forwarding is pipelined, in
// order). While the remote broker is unreachable the local client is
// disconnected and its session (clean session false unless
// local_cleansession says otherwise) queues the out messages in the
// broker: bounded by max_queued_messages, durable with persistence on,
// delivered in order when the bridge connects again. QoS 0 messages are
// not queued, as for any offline client.
//
// # Loops
//
// With try_private (the default) the remote CONNECT carries Mosquitto's
// bridge bit (protocol level 0x83 or 0x84), so that a Mosquitto or mqtls
// remote does not send back what the bridge published; the local client
// connects the same way, so that what came in is not sent out again.
package bridge

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"mqtls/conf"
	"mqtls/internal/fileio"
)

// Local is the broker a bridge belongs to.
type Local interface {
	// Dial opens a connection to the broker for the bridge's local client.
	Dial(bridge string) (net.Conn, error)
	// Queued is the number of messages the broker holds for the local
	// session clientID (0 when there is none).
	Queued(clientID string) int
	// Notify publishes a retained QoS 1 message from the broker itself
	// (for $SYS notification topics, which clients may not publish to).
	Notify(topic string, payload []byte)
}

// State is a bridge's connection state.
type State string

const (
	Connecting   State = "connecting"
	Connected    State = "connected"
	Disconnected State = "disconnected"
)

// Stats are a bridge's state and counters.
type Stats struct {
	Name  string `json:"name"`
	State State  `json:"state"`
	// Address is the remote address of the current or last connection.
	Address string `json:"address"`
	// LocalClientID is the bridge's session on this broker.
	LocalClientID string `json:"local_client_id"`
	// Sent and Received count the messages forwarded out and in, and
	// Dropped those too large for bridge_max_packet_size.
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	Dropped  uint64 `json:"dropped"`
	// Connects counts the connections made.
	Connects uint64 `json:"connects"`
}

// Bridge is one running connection block.
type Bridge struct {
	c        *conf.Bridge
	local    Local
	log      *slog.Logger
	tls      *tls.Config
	password string

	remoteID, localID, notifyTopic string

	state    atomic.Value // State
	addr     atomic.Value // string
	sent     atomic.Uint64
	received atomic.Uint64
	dropped  atomic.Uint64
	connects atomic.Uint64
	// v3only is set once an mqttv50 bridge's remote broker answered as an
	// MQTT 3 broker: the bridge then uses MQTT 3.1.1.
	v3only atomic.Bool

	stop      chan struct{}
	stopOnce  sync.Once
	done      chan struct{}
	connectTO time.Duration
}

// New checks the bridge's files (certificates, key, password file) and
// builds it; nothing connects until Start.
func New(c *conf.Bridge, local Local, log *slog.Logger) (*Bridge, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := &Bridge{c: c, local: local, log: log, stop: make(chan struct{}), done: make(chan struct{}), connectTO: 10 * time.Second}
	b.state.Store(Disconnected)
	b.addr.Store("")
	b.remoteID = c.RemoteClientID
	if b.remoteID == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "mqtls"
		}
		b.remoteID = host + "." + c.Name
	}
	b.localID = c.LocalClientID
	if b.localID == "" {
		b.localID = "local." + b.remoteID
	}
	b.notifyTopic = c.NotificationTopic
	if b.notifyTopic == "" {
		b.notifyTopic = "$SYS/broker/connection/" + b.remoteID + "/state"
	}
	b.password = c.RemotePassword
	if c.RemotePasswordFile != "" {
		pw, err := readPassword(c.RemotePasswordFile)
		if err != nil {
			return nil, b.errorf(err)
		}
		b.password = pw
	}
	if c.TLS() {
		tc, err := tlsConfig(c)
		if err != nil {
			return nil, b.errorf(err)
		}
		b.tls = tc
	}
	return b, nil
}

// errorf places err at the bridge's connection line, as config errors are.
func (b *Bridge) errorf(err error) error {
	return fmt.Errorf("%s:%d: connection %s: %w", b.c.File, b.c.Line, b.c.Name, err)
}

func readPassword(path string) (string, error) {
	raw, err := fileio.ReadFile(path, 4096, "remote_password_file")
	if err != nil {
		return "", err
	}
	pw, _, _ := strings.Cut(string(raw), "\n")
	pw = strings.TrimSuffix(pw, "\r")
	if pw == "" {
		return "", fmt.Errorf("remote_password_file %s: the first line is empty: write the password on it", path)
	}
	return pw, nil
}

func tlsConfig(c *conf.Bridge) (*tls.Config, error) {
	pem, err := fileio.ReadFile(c.CAFile, 1<<20, "bridge_cafile")
	if err != nil {
		return nil, err
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("bridge_cafile %s holds no PEM certificate", c.CAFile)
	}
	tc := &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	if c.TLSVersion == "tlsv1.3" {
		tc.MinVersion = tls.VersionTLS13
	}
	if c.ALPN != "" {
		tc.NextProtos = []string{c.ALPN}
	}
	if c.CertFile != "" {
		kp, err := tls.LoadX509KeyPair(c.CertFile, c.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("bridge_certfile/bridge_keyfile: %w", err)
		}
		tc.Certificates = []tls.Certificate{kp}
	}
	if c.Insecure {
		// bridge_insecure skips the host name check only: the chain is
		// still verified against bridge_cafile.
		tc.InsecureSkipVerify = true
		tc.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("the remote broker sent no certificate")
			}
			inter := x509.NewCertPool()
			for _, ic := range cs.PeerCertificates[1:] {
				inter.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter})
			return err
		}
	}
	return tc, nil
}

// Name is the connection's name.
func (b *Bridge) Name() string { return b.c.Name }

// LocalClientID is the client id of the bridge's session on this broker.
func (b *Bridge) LocalClientID() string { return b.localID }

// Stats returns the bridge's state and counters.
func (b *Bridge) Stats() Stats {
	return Stats{
		Name: b.c.Name, State: b.state.Load().(State), Address: b.addr.Load().(string), LocalClientID: b.localID,
		Sent: b.sent.Load(), Received: b.received.Load(), Dropped: b.dropped.Load(), Connects: b.connects.Load(),
	}
}

// Start runs the bridge until Close: connect, forward, and connect again
// after restart_timeout when the connection fails (not with start_type once).
func (b *Bridge) Start() { go b.run() }

// Close stops the bridge and waits for it; its local session is kept.
func (b *Bridge) Close() {
	b.stopOnce.Do(func() { close(b.stop) })
	<-b.done
}

func (b *Bridge) stopped() bool {
	select {
	case <-b.stop:
		return true
	default:
		return false
	}
}

func (b *Bridge) run() {
	defer close(b.done)
	cur := 0
	sleep := time.Duration(b.c.RestartBase) * time.Second
	waitQueue := false // a lazy bridge waits for threshold queued messages
	for !b.stopped() {
		if waitQueue && !b.waitThreshold() {
			return
		}
		addr := b.c.Addresses[cur]
		b.state.Store(Connecting)
		b.addr.Store(addr)
		var err error
		if b.c.ProtocolVersion == "mqttv50" && !b.v3only.Load() {
			err = b.session5(addr, cur)
		} else {
			err = b.session(addr, cur)
		}
		b.state.Store(Disconnected)
		if b.stopped() {
			return
		}
		waitQueue = b.c.Lazy && !errors.Is(err, errBackToMain)
		if errors.Is(err, errIdle) {
			b.log.Info(fmt.Sprintf("Bridge %s has exceeded idle timeout, disconnecting.", b.c.Name))
			continue
		}
		if errors.Is(err, errNoV5) {
			// As Mosquitto: from now on, this bridge speaks MQTT 3.1.1.
			b.v3only.Store(true)
			b.log.Warn(fmt.Sprintf("Bridge %s: the remote broker does not support MQTT 5, reconnecting with MQTT 3.1.1.", b.c.Name))
		}
		if err != nil {
			b.log.Warn(fmt.Sprintf("Bridge %s: connection to %s failed: %v.", b.c.Name, addr, err))
		}
		if b.c.Once {
			b.log.Warn(fmt.Sprintf("Bridge %s stopped (start_type once).", b.c.Name))
			return
		}
		if !errors.Is(err, errBackToMain) {
			cur = (cur + 1) % len(b.c.Addresses)
		} else {
			cur = 0
		}
		sleep = b.restartDelay(sleep)
		select {
		case <-b.stop:
			return
		case <-time.After(sleep):
		}
	}
}

// errIdle ends a lazy bridge's session after idle_timeout seconds without
// a message forwarded.
var errIdle = errors.New("idle")

// waitThreshold waits until the broker holds threshold messages for the
// bridge's local session (checked each second, as Mosquitto does); false
// if the bridge stops first. Only QoS 1 and 2 messages are queued while
// the bridge is away (Mosquitto also queues QoS 0 ones for a lazy bridge).
func (b *Bridge) waitThreshold() bool {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for b.local.Queued(b.localID) < b.c.Threshold {
		select {
		case <-b.stop:
			return false
		case <-t.C:
		}
	}
	return true
}

// restartDelay is restart_timeout: constant, or Mosquitto's decorrelated
// jitter between the base and the cap.
func (b *Bridge) restartDelay(prev time.Duration) time.Duration {
	base := time.Duration(b.c.RestartBase) * time.Second
	if b.c.RestartCap == 0 {
		return base
	}
	capd := time.Duration(b.c.RestartCap) * time.Second
	hi := max(prev*3, base+1)
	d := base + time.Duration(rand.Int64N(int64(hi-base)))
	return min(d, capd)
}

// errBackToMain ends a session on a secondary address once the main one
// accepts connections again (round_robin false).
var errBackToMain = errors.New("the main address is reachable again")

// dial opens the remote connection: TCP from bridge_bind_address, then TLS.
func (b *Bridge) dial(addr string) (net.Conn, error) {
	d := net.Dialer{Timeout: b.connectTO}
	if b.c.BindAddress != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(b.c.BindAddress)}
	}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		return nil, err
	}
	if b.tls == nil {
		return c, nil
	}
	tc := b.tls.Clone()
	if tc.ServerName == "" {
		host, _, _ := net.SplitHostPort(addr)
		tc.ServerName = host
	}
	sc := tls.Client(c, tc)
	_ = sc.SetDeadline(time.Now().Add(b.connectTO))
	if err := sc.Handshake(); err != nil {
		c.Close()
		return nil, fmt.Errorf("handshake: %w", err)
	}
	_ = sc.SetDeadline(time.Time{})
	return sc, nil
}

// options are the paho options both clients share.
func (b *Bridge) options(id string, clean bool, pv uint, open paho.OpenConnectionFunc) *paho.ClientOptions {
	o := paho.NewClientOptions()
	o.AddBroker("tcp://bridge") // the address is chosen by open
	o.SetCustomOpenConnectionFn(open)
	o.SetClientID(id)
	o.SetCleanSession(clean)
	o.SetAutoReconnect(false)
	o.SetConnectRetry(false)
	o.SetResumeSubs(false)
	o.SetAutoAckDisabled(true)
	o.SetOrderMatters(true)
	o.SetConnectTimeout(b.connectTO)
	o.SetWriteTimeout(b.connectTO)
	o.SetMessageChannelDepth(1024)
	o.SetKeepAlive(time.Duration(b.c.Keepalive) * time.Second)
	o.SetProtocolVersion(pv)
	return o
}

func (b *Bridge) localClean() bool {
	if b.c.LocalCleanSession != nil {
		return *b.c.LocalCleanSession
	}
	return b.c.CleanSession
}

// wait waits for a paho token, or for the bridge to stop.
func (b *Bridge) wait(t paho.Token) error {
	select {
	case <-t.Done():
		return t.Error()
	case <-b.stop:
		return errors.New("bridge stopped")
	case <-time.After(b.connectTO):
		return errors.New("no answer in time")
	}
}
