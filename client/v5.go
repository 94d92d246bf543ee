package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"
)

// v5 is the MQTT 5 backend, on paho.golang.
type v5 struct {
	c      *paho.Client
	pinger *pinger

	mu     sync.Mutex
	end    *SessionError // how the broker ended the session
	closed bool          // disconnect was called
	// told closes when end is known (or disconnect was called); ended
	// closes after paho's Done and told: paho calls its callbacks on
	// goroutines of their own after it has closed Done.
	told     chan struct{}
	tellOnce sync.Once
	doneCh   chan struct{}
}

var _ backend = (*v5)(nil)

func connect5(ctx context.Context, nc net.Conn, o *Options, onMsg func(Message)) (backend, error) {
	b := &v5{pinger: newPinger(), told: make(chan struct{}), doneCh: make(chan struct{})}
	cfg := paho.ClientConfig{
		Conn:          packets.NewThreadSafeConn(nc),
		PingHandler:   b.pinger,
		PacketTimeout: o.Timeout,
		OnPublishReceived: []func(paho.PublishReceived) (bool, error){
			func(pr paho.PublishReceived) (bool, error) {
				onMsg(fromPaho5(pr.Packet))
				return true, nil
			},
		},
		// Errors after the connection is up end it; Done() tells the
		// caller and ended() why.
		OnClientError: func(err error) {
			b.mu.Lock()
			if b.end == nil && !b.closed {
				b.end = &SessionError{Version: V5, Err: err}
			}
			b.mu.Unlock()
			b.tell()
		},
		OnServerDisconnect: func(d *paho.Disconnect) {
			e := &SessionError{Version: V5, Disconnect: true, Code: d.ReasonCode}
			if d.Properties != nil {
				e.Reason = d.Properties.ReasonString
			}
			b.mu.Lock()
			b.end = e
			b.mu.Unlock()
			b.tell()
		},
	}
	b.c = paho.NewClient(cfg)
	cp := &paho.Connect{
		ClientID:     o.ClientID,
		KeepAlive:    o.KeepAlive,
		CleanStart:   !o.NoCleanSession,
		Username:     o.Username,
		UsernameFlag: o.Username != "",
		Password:     []byte(o.Password),
		PasswordFlag: o.Password != "",
	}
	props := &paho.ConnectProperties{}
	if o.SessionExpiry != 0 {
		se := o.SessionExpiry
		props.SessionExpiryInterval = &se
	}
	for _, u := range o.ConnectProperties {
		props.User = append(props.User, paho.UserProperty{Key: u.Key, Value: u.Value})
	}
	cp.Properties = props
	if w := o.Will; w != nil {
		cp.WillMessage = &paho.WillMessage{Topic: w.Topic, Payload: w.Payload, QoS: w.QoS, Retain: w.Retain}
		cp.WillProperties = willProps5(w.Props)
	}
	ca, err := b.c.Connect(ctx, cp)
	if err != nil {
		if ca != nil && ca.ReasonCode >= 0x80 {
			return nil, &ConnackError{Version: V5, Code: ca.ReasonCode}
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	go func() {
		<-b.c.Done()
		select {
		case <-b.told:
		case <-time.After(time.Second):
		}
		close(b.doneCh)
	}()
	return b, nil
}

func willProps5(p Properties) *paho.WillProperties {
	w := &paho.WillProperties{PayloadFormat: p.PayloadFormat, MessageExpiry: p.MessageExpiry,
		ContentType: p.ContentType, ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData}
	for _, u := range p.User {
		w.User = append(w.User, paho.UserProperty{Key: u.Key, Value: u.Value})
	}
	return w
}

func fromPaho5(p *paho.Publish) Message {
	m := Message{Topic: p.Topic, Payload: p.Payload, QoS: p.QoS, Retain: p.Retain, Dup: p.Duplicate(), Mid: p.PacketID}
	if pp := p.Properties; pp != nil {
		m.Props = Properties{PayloadFormat: pp.PayloadFormat, MessageExpiry: pp.MessageExpiry, TopicAlias: pp.TopicAlias,
			ContentType: pp.ContentType, ResponseTopic: pp.ResponseTopic, CorrelationData: pp.CorrelationData}
		if pp.SubscriptionIdentifier != nil {
			m.Props.SubscriptionIDs = []int{*pp.SubscriptionIdentifier}
		}
		for _, u := range pp.User {
			m.Props.User = append(m.Props.User, UserProperty{Key: u.Key, Value: u.Value})
		}
	}
	return m
}

func (b *v5) publish(ctx context.Context, m Message) (byte, error) {
	pp := &paho.PublishProperties{PayloadFormat: m.Props.PayloadFormat, MessageExpiry: m.Props.MessageExpiry,
		TopicAlias: m.Props.TopicAlias, ContentType: m.Props.ContentType, ResponseTopic: m.Props.ResponseTopic,
		CorrelationData: m.Props.CorrelationData}
	for _, u := range m.Props.User {
		pp.User = append(pp.User, paho.UserProperty{Key: u.Key, Value: u.Value})
	}
	r, err := b.c.Publish(ctx, &paho.Publish{Topic: m.Topic, Payload: m.Payload, QoS: m.QoS, Retain: m.Retain, Properties: pp})
	if r != nil && r.ReasonCode >= 0x80 {
		return r.ReasonCode, nil
	}
	if err != nil {
		return 0, err
	}
	if r != nil {
		return r.ReasonCode, nil
	}
	return 0, nil
}

func (b *v5) subscribe(ctx context.Context, subs []Subscription) ([]byte, error) {
	s := &paho.Subscribe{}
	for _, x := range subs {
		s.Subscriptions = append(s.Subscriptions, paho.SubscribeOptions{Topic: x.Filter, QoS: x.QoS,
			RetainHandling: x.RetainHandling, NoLocal: x.NoLocal, RetainAsPublished: x.RetainAsPublished})
	}
	sa, err := b.c.Subscribe(ctx, s)
	if sa != nil {
		// Refusals are reason codes, not errors: the caller reports them.
		return sa.Reasons, nil
	}
	return nil, err
}

func (b *v5) unsubscribe(ctx context.Context, filters []string) error {
	ua, err := b.c.Unsubscribe(ctx, &paho.Unsubscribe{Topics: filters})
	if ua != nil {
		for _, r := range ua.Reasons {
			if r >= 0x80 {
				return &ReasonError{Packet: "UNSUBACK", Version: V5, Code: r}
			}
		}
		return nil
	}
	return err
}

func (b *v5) tell() { b.tellOnce.Do(func() { close(b.told) }) }

func (b *v5) ended() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.end != nil {
		return b.end
	}
	if b.closed {
		return nil
	}
	return &SessionError{Version: V5}
}

func (b *v5) disconnect() error {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.tell()
	select {
	case <-b.c.Done():
		return errors.New("the connection was lost")
	default:
	}
	err := b.c.Disconnect(&paho.Disconnect{ReasonCode: 0})
	<-b.c.Done()
	return err
}

func (b *v5) done() <-chan struct{} { return b.doneCh }

func (b *v5) clientID() string { return b.c.ClientID() }
