package bridge

import (
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	paho "github.com/eclipse/paho.mqtt.golang"

	"mqtls/topic"
)

// maxQoS0Backlog bounds the QoS 0 messages waiting to be forwarded; more
// are dropped (QoS 1 and 2 are bounded by the brokers' in-flight windows:
// neither sends more unacknowledged messages than its limit).
const maxQoS0Backlog = 10000

// session is one connection of both clients: it ends when either fails
// or the bridge stops.
type session struct {
	b       *Bridge
	done    chan struct{}
	once    sync.Once
	err     error
	out, in *fifo[paho.Message]
	wg      sync.WaitGroup
}

func (s *session) fail(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.done)
	})
}

// session connects to addr (the idx-th address), forwards until the
// connection fails, and returns why.
func (b *Bridge) session(addr string, idx int) error {
	s := &session{b: b, done: make(chan struct{}), out: newFifo[paho.Message](), in: newFifo[paho.Message]()}
	b.log.Info(fmt.Sprintf("Connecting bridge %s (%s)", b.c.Name, addr))

	pv := uint(4)
	if b.c.ProtocolVersion == "mqttv31" {
		pv = 3
	}
	rpv := pv
	if b.c.TryPrivate {
		rpv |= 0x80
	}
	ro := b.options(b.remoteID, b.c.CleanSession, rpv, func(*url.URL, paho.ClientOptions) (net.Conn, error) {
		c, err := b.dial(addr)
		if err != nil {
			return nil, err
		}
		return newBufConn(c), nil
	})
	if b.c.RemoteUsername != "" {
		ro.SetUsername(b.c.RemoteUsername)
		if b.password != "" {
			ro.SetPassword(b.password)
		}
	}
	notifyRemote := b.c.Notifications && !b.c.NotificationsLocalOnly
	if notifyRemote {
		ro.SetBinaryWill(b.notifyTopic, []byte("0"), 1, true)
	}
	ro.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) { s.in.push(m) })
	ro.SetConnectionLostHandler(func(_ paho.Client, err error) { s.fail(fmt.Errorf("connection lost: %w", err)) })
	remote := paho.NewClient(ro)
	if err := b.wait(remote.Connect()); err != nil {
		return err
	}
	defer func() {
		if remote.IsConnectionOpen() {
			if notifyRemote {
				_ = b.wait(remote.Publish(b.notifyTopic, 1, true, "0"))
			}
			remote.Disconnect(250)
		}
	}()

	// The local client always connects as a bridge: the broker then does
	// not send it back what it publishes (what came in does not go out).
	lo := b.options(b.localID, b.localClean(), pv|0x80, func(*url.URL, paho.ClientOptions) (net.Conn, error) {
		c, err := b.local.Dial(b.c.Name)
		if err != nil {
			return nil, err
		}
		return newReadBuffered(c), nil
	})
	lo.SetDefaultPublishHandler(func(_ paho.Client, m paho.Message) {
		if m.Qos() == 0 && s.out.len() >= maxQoS0Backlog {
			b.dropped.Add(1)
			return
		}
		s.out.push(m)
	})
	lo.SetConnectionLostHandler(func(_ paho.Client, err error) { s.fail(fmt.Errorf("local connection lost: %w", err)) })
	local := paho.NewClient(lo)
	if err := b.wait(local.Connect()); err != nil {
		return fmt.Errorf("local connection: %w", err)
	}
	defer local.Disconnect(0)

	if err := b.subscribe(remote, local); err != nil {
		return err
	}
	b.connects.Add(1)
	b.state.Store(Connected)
	b.log.Info(fmt.Sprintf("Bridge %s connected to %s.", b.c.Name, addr))
	if b.c.Notifications {
		b.local.Notify(b.notifyTopic, []byte("1"))
		if notifyRemote {
			if err := b.wait(remote.Publish(b.notifyTopic, 1, true, "1")); err != nil {
				return fmt.Errorf("notification: %w", err)
			}
		}
		defer b.local.Notify(b.notifyTopic, []byte("0"))
	}

	outAcks, inAcks := newFifo[pending](), newFifo[pending]()
	s.wg.Add(4)
	go s.forward(s.out, outAcks, func(m paho.Message) paho.Token {
		rt, ok := b.mapOut(m.Topic())
		if !ok {
			return nil
		}
		if b.c.MaxPacketSize > 0 && publishSize(rt, m) > b.c.MaxPacketSize {
			b.dropped.Add(1)
			b.log.Warn(fmt.Sprintf("Bridge %s: dropped a message on %q larger than bridge_max_packet_size.", b.c.Name, m.Topic()))
			return nil
		}
		return remote.Publish(rt, m.Qos(), m.Retained() && b.c.OutgoingRetain, m.Payload())
	})
	go s.forward(s.in, inAcks, func(m paho.Message) paho.Token {
		lt, ok := b.mapIn(m.Topic())
		if !ok {
			return nil
		}
		return local.Publish(lt, m.Qos(), m.Retained(), m.Payload())
	})
	go s.acknowledge(outAcks, &b.sent)
	go s.acknowledge(inAcks, &b.received)
	defer s.wg.Wait()

	return b.watch(s, idx)
}

// subscribe makes the subscriptions of both sides.
func (b *Bridge) subscribe(remote, local paho.Client) error {
	in, out := map[string]byte{}, map[string]byte{}
	for _, t := range b.c.Topics {
		if t.In() {
			in[t.RemotePrefix+t.Pattern] = max(in[t.RemotePrefix+t.Pattern], t.QoS)
		}
		if t.Out() {
			out[t.LocalPrefix+t.Pattern] = max(out[t.LocalPrefix+t.Pattern], t.QoS)
		}
	}
	if b.c.AttemptUnsubscribe && !b.c.CleanSession {
		// A kept remote session may hold the subscription of a topic that
		// was "in" before and is "out" now.
		var stale []string
		for _, t := range b.c.Topics {
			if f := t.RemotePrefix + t.Pattern; !t.In() {
				if _, ok := in[f]; !ok {
					stale = append(stale, f)
				}
			}
		}
		if len(stale) > 0 {
			if err := b.wait(remote.Unsubscribe(stale...)); err != nil {
				return fmt.Errorf("unsubscribe: %w", err)
			}
		}
	}
	if len(in) > 0 {
		if err := b.wait(remote.SubscribeMultiple(in, nil)); err != nil {
			return fmt.Errorf("subscribe on the remote broker: %w", err)
		}
	}
	if len(out) > 0 {
		if err := b.wait(local.SubscribeMultiple(out, nil)); err != nil {
			return fmt.Errorf("subscribe on this broker: %w", err)
		}
	}
	return nil
}

// mapOut turns a local topic into its remote one, by the first out topic
// that matches it.
func (b *Bridge) mapOut(t string) (string, bool) {
	for _, tp := range b.c.Topics {
		if tp.Out() && strings.HasPrefix(t, tp.LocalPrefix) && topic.Match(tp.LocalPrefix+tp.Pattern, t) {
			return tp.RemotePrefix + t[len(tp.LocalPrefix):], true
		}
	}
	return "", false
}

// mapIn turns a remote topic into its local one.
func (b *Bridge) mapIn(t string) (string, bool) {
	for _, tp := range b.c.Topics {
		if tp.In() && strings.HasPrefix(t, tp.RemotePrefix) && topic.Match(tp.RemotePrefix+tp.Pattern, t) {
			return tp.LocalPrefix + t[len(tp.RemotePrefix):], true
		}
	}
	return "", false
}

// publishSize is the size of the PUBLISH packet that carries m on topic t.
func publishSize(t string, m paho.Message) int {
	rem := 2 + len(t) + len(m.Payload())
	if m.Qos() > 0 {
		rem += 2
	}
	n := 1
	for r := rem; ; r >>= 7 {
		n++
		if r < 128 {
			break
		}
	}
	return n + rem
}

// pending is a message forwarded to the other side and not yet
// acknowledged there.
type pending struct {
	tok paho.Token
	m   paho.Message
}

// forward publishes each message of q on the other side, in order, without
// waiting for the acknowledgements (acknowledge waits for them).
func (s *session) forward(q *fifo[paho.Message], acks *fifo[pending], publish func(paho.Message) paho.Token) {
	defer s.wg.Done()
	for {
		m, ok := q.pop(s.done)
		if !ok {
			return
		}
		tok := publish(m)
		if tok == nil {
			m.Ack()
			continue
		}
		acks.push(pending{tok, m})
	}
}

// acknowledge acknowledges each message to the side it came from once the
// other side has acknowledged it, in order.
func (s *session) acknowledge(acks *fifo[pending], n *atomic.Uint64) {
	defer s.wg.Done()
	for {
		p, ok := acks.pop(s.done)
		if !ok {
			return
		}
		select {
		case <-p.tok.Done():
		case <-s.done:
			return
		}
		if err := p.tok.Error(); err != nil {
			s.fail(fmt.Errorf("forward: %w", err))
			return
		}
		p.m.Ack()
		n.Add(1)
	}
}

// fifo is an unbounded queue with a blocking pop.
type fifo[T any] struct {
	mu   sync.Mutex
	q    []T
	wake chan struct{}
}

func newFifo[T any]() *fifo[T] { return &fifo[T]{wake: make(chan struct{}, 1)} }

func (f *fifo[T]) push(v T) {
	f.mu.Lock()
	f.q = append(f.q, v)
	f.mu.Unlock()
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *fifo[T]) len() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.q)
}

func (f *fifo[T]) pop(done <-chan struct{}) (T, bool) {
	var zero T
	for {
		f.mu.Lock()
		if len(f.q) > 0 {
			v := f.q[0]
			f.q[0] = zero
			f.q = f.q[1:]
			f.mu.Unlock()
			return v, true
		}
		f.mu.Unlock()
		select {
		case <-f.wake:
		case <-done:
			return zero, false
		}
	}
}
