package bridge

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/eclipse/paho.golang/packets"
	paho5 "github.com/eclipse/paho.golang/paho"
	pahosession "github.com/eclipse/paho.golang/paho/session"
	"github.com/eclipse/paho.golang/paho/session/state"
)

// An MQTT 5 bridge (bridge_protocol_version mqttv50) is two paho.golang
// clients, as an MQTT 3 bridge is two paho.mqtt.golang ones, with
// Mosquitto 2.0's meanings:
//
//   - no bridge bit in the CONNECT (Mosquitto sets it for MQTT 3 only):
//     loops are broken by No Local on the bridge's subscriptions, on both
//     brokers, and retained messages cross as retained by Retain As
//     Published;
//   - the remote CONNACK's Maximum QoS lowers the QoS of what goes out and
//     of the remote subscriptions, Retain Available false clears the
//     retain flag of what goes out, Maximum Packet Size lowers
//     bridge_max_packet_size, Receive Maximum bounds what is in flight,
//     and Server Keep Alive replaces keepalive_interval (paho.golang);
//   - a remote broker that answers the MQTT 5 CONNECT as an MQTT 3 broker
//     does (a CONNACK "unacceptable protocol version") makes the bridge
//     use MQTT 3.1.1 from the next attempt on.
//
// What differs from Mosquitto 2.0.11: messages keep their properties
// (user properties, content type, response topic, correlation data,
// payload format, message expiry) across the bridge in both directions,
// as Mosquitto's do; and with cleansession false the remote session is
// kept (Session Expiry Interval 0xFFFFFFFF), where Mosquitto sends none and
// so loses the remote session at each disconnect.

// sessionForever is the Session Expiry Interval of a session that does
// not expire.
const sessionForever = math.MaxUint32

// receiveMaximum is the Receive Maximum both clients announce: the
// messages that may be in flight to the bridge on each side.
const receiveMaximum = 1024

// errNoV5 ends a session whose remote broker does not speak MQTT 5.
var errNoV5 = errors.New("the remote broker does not support MQTT 5")

// message5 is a message received by one of the clients, acknowledged
// through it.
type message5 struct {
	p *paho5.Publish
	c *paho5.Client
}

// pending5 is a message forwarded and not yet acknowledged by the other
// side: resp receives the PUBACK, PUBREC or PUBCOMP (or a zero packet
// when the session ends first).
type pending5 struct {
	m    message5
	resp chan packets.ControlPacket
}

// tapState is paho.golang's session state, which also hands the channel
// of a publish's acknowledgement to its caller: paho's asynchronous
// publish gives no way to wait for it, and its blocking one cannot be
// pipelined in order.
type tapState struct {
	pahosession.SessionManager
	mu   sync.Mutex
	next chan packets.ControlPacket
}

func (t *tapState) AddToSession(ctx context.Context, p pahosession.Packet, resp chan<- packets.ControlPacket) error {
	t.mu.Lock()
	if t.next != nil && p.Type() == packets.PUBLISH {
		resp, t.next = t.next, nil
	}
	t.mu.Unlock()
	return t.SessionManager.AddToSession(ctx, p, resp)
}

// sender publishes in order without waiting, and returns the channel of
// each message's acknowledgement.
type sender struct {
	c   *paho5.Client
	tap *tapState
	mu  sync.Mutex // one publish at a time: the tap's next channel is its own
}

func (s *sender) publish(ctx context.Context, p *paho5.Publish) (chan packets.ControlPacket, error) {
	if p.QoS == 0 {
		_, err := s.c.Publish(ctx, p)
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	resp := make(chan packets.ControlPacket, 1)
	s.tap.mu.Lock()
	s.tap.next = resp
	s.tap.mu.Unlock()
	_, err := s.c.PublishWithOptions(ctx, p, paho5.PublishOptions{Method: paho5.PublishMethod_AsyncSend})
	s.tap.mu.Lock()
	s.tap.next = nil
	s.tap.mu.Unlock()
	if err != nil && !errors.Is(err, paho5.ErrNetworkErrorAfterStored) {
		return nil, err
	}
	return resp, nil
}

// sniffConn keeps the first bytes the remote broker sends, to recognise
// an MQTT 3 broker's answer to an MQTT 5 CONNECT.
type sniffConn struct {
	net.Conn
	mu    sync.Mutex
	first []byte
}

func (c *sniffConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.mu.Lock()
	if k := min(n, 4-len(c.first)); k > 0 {
		c.first = append(c.first, p[:k]...)
	}
	c.mu.Unlock()
	return n, err
}

// refusedAsV3 reports whether the broker answered with an MQTT 3 CONNACK
// "unacceptable protocol version" (20 02 xx 01).
func (c *sniffConn) refusedAsV3() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.first) == 4 && c.first[0] == 0x20 && c.first[1] == 2 && c.first[3] == 1
}

// session5 is session for an MQTT 5 bridge.
func (b *Bridge) session5(addr string, idx int) error {
	s := &session{b: b, done: make(chan struct{})}
	in, out := newFifo[message5](), newFifo[message5]()
	b.log.Info(fmt.Sprintf("Connecting bridge %s (%s)", b.c.Name, addr))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-b.stop:
		case <-s.done:
		case <-ctx.Done():
		}
		cancel()
	}()

	raw, err := b.dial(addr)
	if err != nil {
		return err
	}
	sniff := &sniffConn{Conn: newBufConn(raw)}
	rtap := &tapState{SessionManager: state.NewInMemory()}
	remote := paho5.NewClient(paho5.ClientConfig{
		Conn:                       packets.NewThreadSafeConn(sniff),
		Session:                    rtap,
		PacketTimeout:              b.connectTO,
		EnableManualAcknowledgment: true,
		SendAcksInterval:           5 * time.Millisecond,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(r paho5.PublishReceived) (bool, error) {
			in.push(message5{r.Packet, r.Client})
			return true, nil
		}},
		OnClientError:      func(err error) { s.fail(fmt.Errorf("connection lost: %w", err)) },
		OnServerDisconnect: func(d *paho5.Disconnect) { s.fail(disconnectError(d)) },
	})
	defer rtap.Close()
	rcp := b.connect5(b.remoteID, b.c.CleanSession)
	if b.c.RemoteUsername != "" {
		rcp.Username, rcp.UsernameFlag = b.c.RemoteUsername, true
		if b.password != "" {
			rcp.Password, rcp.PasswordFlag = []byte(b.password), true
		}
	}
	notifyRemote := b.c.Notifications && !b.c.NotificationsLocalOnly
	if notifyRemote {
		rcp.WillMessage = &paho5.WillMessage{Topic: b.notifyTopic, Payload: []byte("0"), QoS: 1, Retain: true}
	}
	cctx, ccancel := context.WithTimeout(ctx, b.connectTO)
	ca, err := remote.Connect(cctx, rcp)
	ccancel()
	if err != nil {
		if sniff.refusedAsV3() {
			return errNoV5
		}
		return fmt.Errorf("connect: %w", err)
	}
	lim := limits5{maxQoS: 2, retain: b.c.OutgoingRetain, maxPacket: b.c.MaxPacketSize}
	if p := ca.Properties; p != nil {
		if p.MaximumQoS != nil {
			lim.maxQoS = *p.MaximumQoS
		}
		lim.retain = lim.retain && p.RetainAvailable
		if p.MaximumPacketSize != nil && (lim.maxPacket == 0 || int(*p.MaximumPacketSize) < lim.maxPacket) {
			lim.maxPacket = int(*p.MaximumPacketSize)
		}
	}
	rs := &sender{c: remote, tap: rtap}
	defer func() {
		select {
		case <-remote.Done():
			return
		default:
		}
		if notifyRemote {
			nctx, ncancel := context.WithTimeout(context.Background(), time.Second)
			_, _ = remote.Publish(nctx, &paho5.Publish{Topic: b.notifyTopic, QoS: min(1, lim.maxQoS), Retain: lim.retain, Payload: []byte("0")})
			ncancel()
		}
		_ = remote.Disconnect(&paho5.Disconnect{ReasonCode: 0})
		<-remote.Done()
	}()

	lc, err := b.local.Dial(b.c.Name)
	if err != nil {
		return fmt.Errorf("local connection: %w", err)
	}
	ltap := &tapState{SessionManager: state.NewInMemory()}
	local := paho5.NewClient(paho5.ClientConfig{
		Conn:                       packets.NewThreadSafeConn(newReadBuffered(lc)),
		Session:                    ltap,
		PacketTimeout:              b.connectTO,
		EnableManualAcknowledgment: true,
		SendAcksInterval:           5 * time.Millisecond,
		OnPublishReceived: []func(paho5.PublishReceived) (bool, error){func(r paho5.PublishReceived) (bool, error) {
			if r.Packet.QoS == 0 && out.len() >= maxQoS0Backlog {
				b.dropped.Add(1)
				return true, nil
			}
			out.push(message5{r.Packet, r.Client})
			return true, nil
		}},
		OnClientError:      func(err error) { s.fail(fmt.Errorf("local connection lost: %w", err)) },
		OnServerDisconnect: func(d *paho5.Disconnect) { s.fail(fmt.Errorf("local connection: %w", disconnectError(d))) },
	})
	defer ltap.Close()
	cctx, ccancel = context.WithTimeout(ctx, b.connectTO)
	_, err = local.Connect(cctx, b.connect5(b.localID, b.localClean()))
	ccancel()
	if err != nil {
		return fmt.Errorf("local connection: %w", err)
	}
	defer func() {
		_ = local.Disconnect(&paho5.Disconnect{ReasonCode: 0})
		<-local.Done()
	}()
	ls := &sender{c: local, tap: ltap}

	if err := b.subscribe5(ctx, remote, local, lim.maxQoS); err != nil {
		return err
	}
	b.connects.Add(1)
	b.state.Store(Connected)
	b.log.Info(fmt.Sprintf("Bridge %s connected to %s (MQTT 5).", b.c.Name, addr))
	if b.c.Notifications {
		b.local.Notify(b.notifyTopic, []byte("1"))
		if notifyRemote {
			nctx, ncancel := context.WithTimeout(ctx, b.connectTO)
			_, err := remote.Publish(nctx, &paho5.Publish{Topic: b.notifyTopic, QoS: min(1, lim.maxQoS), Retain: lim.retain, Payload: []byte("1")})
			ncancel()
			if err != nil {
				return fmt.Errorf("notification: %w", err)
			}
		}
		defer b.local.Notify(b.notifyTopic, []byte("0"))
	}

	outAcks, inAcks := newFifo[pending5](), newFifo[pending5]()
	s.wg.Add(4)
	go s.forward5(ctx, out, outAcks, rs, func(m *paho5.Publish) *paho5.Publish {
		rt, ok := b.mapOut(m.Topic)
		if !ok {
			return nil
		}
		p := &paho5.Publish{Topic: rt, QoS: min(m.QoS, lim.maxQoS), Retain: m.Retain && lim.retain, Payload: m.Payload, Properties: forwardProps(m.Properties)}
		if lim.maxPacket > 0 && packetSize(p) > lim.maxPacket {
			b.dropped.Add(1)
			b.log.Warn(fmt.Sprintf("Bridge %s: dropped a message on %q larger than the remote broker's maximum packet size.", b.c.Name, m.Topic))
			return nil
		}
		return p
	})
	go s.forward5(ctx, in, inAcks, ls, func(m *paho5.Publish) *paho5.Publish {
		lt, ok := b.mapIn(m.Topic)
		if !ok {
			return nil
		}
		return &paho5.Publish{Topic: lt, QoS: m.QoS, Retain: m.Retain, Payload: m.Payload, Properties: forwardProps(m.Properties)}
	})
	go s.acknowledge5(outAcks, &b.sent)
	go s.acknowledge5(inAcks, &b.received)
	defer s.wg.Wait()
	return b.watch(s, idx)
}

// watch waits for the end of a connected session: a failure, the bridge's
// stop, or (on a secondary address without round_robin) the main address
// answering again.
func (b *Bridge) watch(s *session, idx int) error {
	var probe, tick <-chan time.Time
	if idx > 0 && !b.c.RoundRobin {
		t := time.NewTicker(time.Duration(max(b.c.RestartBase, 5)) * time.Second)
		defer t.Stop()
		probe = t.C
	}
	// A lazy bridge stops after idle_timeout seconds without a message
	// forwarded either way.
	var forwarded uint64
	var since time.Time
	if b.c.Lazy {
		t := time.NewTicker(time.Second)
		defer t.Stop()
		tick = t.C
		since = time.Now()
	}
	for {
		select {
		case <-s.done:
			return s.err
		case now := <-tick:
			if n := b.sent.Load() + b.received.Load() + b.dropped.Load(); n != forwarded {
				forwarded, since = n, now
			} else if now.Sub(since) >= time.Duration(b.c.IdleTimeout)*time.Second {
				s.fail(errIdle)
				return errIdle
			}
		case <-b.stop:
			s.fail(nil)
			return nil
		case <-probe:
			if c, err := b.dial(b.c.Addresses[0]); err == nil {
				c.Close()
				s.fail(errBackToMain)
				return errBackToMain
			}
		}
	}
}

// limits5 is what the remote CONNACK allows.
type limits5 struct {
	maxQoS    byte
	retain    bool
	maxPacket int
}

// connect5 is the CONNECT of either client.
func (b *Bridge) connect5(id string, clean bool) *paho5.Connect {
	rm := uint16(receiveMaximum)
	cp := &paho5.Connect{ClientID: id, KeepAlive: uint16(b.c.Keepalive), CleanStart: clean,
		// RequestProblemInfo true: paho.golang sends 0 otherwise, and mochi
		// then leaves out the user properties of what it delivers.
		Properties: &paho5.ConnectProperties{ReceiveMaximum: &rm, RequestProblemInfo: true}}
	if !clean {
		exp := uint32(sessionForever)
		cp.Properties.SessionExpiryInterval = &exp
	}
	return cp
}

func disconnectError(d *paho5.Disconnect) error {
	if d.Properties != nil && d.Properties.ReasonString != "" {
		return fmt.Errorf("disconnected by the broker: reason 0x%02x (%s)", d.ReasonCode, d.Properties.ReasonString)
	}
	return fmt.Errorf("disconnected by the broker: reason 0x%02x", d.ReasonCode)
}

// subscribe5 makes the subscriptions of both sides, each with No Local
// and Retain As Published, as Mosquitto's MQTT 5 bridges do.
func (b *Bridge) subscribe5(ctx context.Context, remote, local *paho5.Client, maxQoS byte) error {
	in, out := map[string]byte{}, map[string]byte{}
	var inOrder, outOrder []string
	for _, t := range b.c.Topics {
		if f := t.RemotePrefix + t.Pattern; t.In() {
			if _, ok := in[f]; !ok {
				inOrder = append(inOrder, f)
			}
			in[f] = max(in[f], min(t.QoS, maxQoS))
		}
		if f := t.LocalPrefix + t.Pattern; t.Out() {
			if _, ok := out[f]; !ok {
				outOrder = append(outOrder, f)
			}
			out[f] = max(out[f], t.QoS)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, b.connectTO)
	defer cancel()
	if b.c.AttemptUnsubscribe && !b.c.CleanSession {
		var stale []string
		for _, t := range b.c.Topics {
			if f := t.RemotePrefix + t.Pattern; !t.In() {
				if _, ok := in[f]; !ok {
					stale = append(stale, f)
				}
			}
		}
		if len(stale) > 0 {
			if _, err := remote.Unsubscribe(ctx, &paho5.Unsubscribe{Topics: stale}); err != nil {
				return fmt.Errorf("unsubscribe: %w", err)
			}
		}
	}
	subs := func(order []string, qos map[string]byte) *paho5.Subscribe {
		s := &paho5.Subscribe{}
		for _, f := range order {
			s.Subscriptions = append(s.Subscriptions, paho5.SubscribeOptions{Topic: f, QoS: qos[f], NoLocal: true, RetainAsPublished: true})
		}
		return s
	}
	if len(inOrder) > 0 {
		if err := subackError(remote.Subscribe(ctx, subs(inOrder, in))); err != nil {
			return fmt.Errorf("subscribe on the remote broker: %w", err)
		}
	}
	if len(outOrder) > 0 {
		if err := subackError(local.Subscribe(ctx, subs(outOrder, out))); err != nil {
			return fmt.Errorf("subscribe on this broker: %w", err)
		}
	}
	return nil
}

func subackError(sa *paho5.Suback, err error) error {
	if err != nil {
		return err
	}
	for _, r := range sa.Reasons {
		if r >= 0x80 {
			return fmt.Errorf("refused with reason 0x%02x", r)
		}
	}
	return nil
}

// forwardProps are the properties of a message that cross the bridge: not
// its topic alias or subscription identifiers, which belong to the
// connection it came on.
func forwardProps(p *paho5.PublishProperties) *paho5.PublishProperties {
	if p == nil {
		return nil
	}
	return &paho5.PublishProperties{CorrelationData: p.CorrelationData, ContentType: p.ContentType, ResponseTopic: p.ResponseTopic,
		PayloadFormat: p.PayloadFormat, MessageExpiry: p.MessageExpiry, User: p.User}
}

// packetSize is the encoded size of a PUBLISH.
func packetSize(p *paho5.Publish) int {
	pb := p.Packet()
	if p.QoS > 0 {
		pb.PacketID = 1
	}
	var n countWriter
	_, _ = pb.WriteTo(&n)
	return int(n)
}

type countWriter int

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

var _ io.Writer = (*countWriter)(nil)

// forward5 publishes each message of q on the other side, in order,
// without waiting for the acknowledgements.
func (s *session) forward5(ctx context.Context, q *fifo[message5], acks *fifo[pending5], to *sender, mapped func(*paho5.Publish) *paho5.Publish) {
	defer s.wg.Done()
	for {
		m, ok := q.pop(s.done)
		if !ok {
			return
		}
		p := mapped(m.p)
		if p == nil {
			ackFrom(m)
			continue
		}
		resp, err := to.publish(ctx, p)
		if err != nil {
			s.fail(fmt.Errorf("forward: %w", err))
			return
		}
		if resp == nil { // QoS 0 out: done once written
			ackFrom(m)
			continue
		}
		acks.push(pending5{m, resp})
	}
}

// ackFrom acknowledges a message to the client it came from.
func ackFrom(m message5) {
	if m.p.QoS > 0 {
		_ = m.c.Ack(m.p)
	}
}

// acknowledge5 acknowledges each message to the side it came from once
// the other side has acknowledged it, in order. A refusal (reason code
// 0x80 or more) ends the message's delivery as an acknowledgement does,
// as in MQTT 5: it is counted as dropped, not sent again.
func (s *session) acknowledge5(acks *fifo[pending5], n *atomic.Uint64) {
	defer s.wg.Done()
	for {
		p, ok := acks.pop(s.done)
		if !ok {
			return
		}
		var r packets.ControlPacket
		select {
		case r = <-p.resp:
		case <-s.done:
			return
		}
		code := byte(0)
		switch c := r.Content.(type) {
		case *packets.Puback:
			code = c.ReasonCode
		case *packets.Pubrec:
			code = c.ReasonCode
		case *packets.Pubcomp:
			code = c.ReasonCode
		default:
			s.fail(errors.New("forward: the connection ended before the acknowledgement"))
			return
		}
		ackFrom(p.m)
		if code >= 0x80 {
			s.b.dropped.Add(1)
			s.b.log.Warn(fmt.Sprintf("Bridge %s: a message on %q was refused with reason 0x%02x.", s.b.c.Name, p.m.p.Topic, code))
			continue
		}
		n.Add(1)
	}
}
