package client

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	mqtt "github.com/eclipse/paho.mqtt.golang"
)

// v3 is the MQTT 3.1.1 and 3.1 backend, on paho.mqtt.golang.
type v3 struct {
	c        mqtt.Client
	order    *orderConn
	subMu    sync.Mutex // one SUBSCRIBE at a time, for order
	id       string
	timeout  time.Duration
	lost     chan struct{}
	lostOnce sync.Once
	lostErr  error // set before lost closes; nil when disconnect closed it
}

var _ backend = (*v3)(nil)

func connect3(ctx context.Context, nc net.Conn, o *Options, onMsg func(Message)) (backend, error) {
	b := &v3{id: o.ClientID, timeout: o.Timeout, lost: make(chan struct{}), order: newOrderConn(nc)}
	opts := mqtt.NewClientOptions()
	// The connection is already open (and TLS done); the URL only satisfies the library.
	opts.AddBroker("tcp://" + net.JoinHostPort(o.Host, fmt.Sprint(o.Port)))
	used := false
	opts.SetCustomOpenConnectionFn(func(*url.URL, mqtt.ClientOptions) (net.Conn, error) {
		if used {
			return nil, errors.New("reconnecting is not supported")
		}
		used = true
		return b.order, nil
	})
	opts.SetProtocolVersion(uint(o.Version))
	opts.SetClientID(o.ClientID)
	opts.SetUsername(o.Username)
	opts.SetPassword(o.Password)
	opts.SetCleanSession(!o.NoCleanSession)
	opts.SetKeepAlive(time.Duration(o.KeepAlive) * time.Second)
	opts.SetPingTimeout(time.Duration(o.KeepAlive) * time.Second)
	opts.SetAutoReconnect(false)
	opts.SetConnectRetry(false)
	opts.SetConnectTimeout(o.Timeout)
	opts.SetWriteTimeout(o.Timeout)
	opts.SetOrderMatters(true)
	opts.SetResumeSubs(false)
	if w := o.Will; w != nil {
		opts.SetBinaryWill(w.Topic, w.Payload, w.QoS, w.Retain)
	}
	opts.SetDefaultPublishHandler(func(_ mqtt.Client, m mqtt.Message) {
		onMsg(Message{Topic: m.Topic(), Payload: m.Payload(), QoS: m.Qos(), Retain: m.Retained(), Dup: m.Duplicate(), Mid: m.MessageID()})
	})
	opts.SetConnectionLostHandler(func(_ mqtt.Client, err error) {
		b.lostOnce.Do(func() {
			b.lostErr = &SessionError{Version: o.Version, Err: err}
			close(b.lost)
		})
	})
	b.c = mqtt.NewClient(opts)
	tok := b.c.Connect()
	if err := waitToken(ctx, tok, o.Timeout); err != nil {
		ct := tok.(*mqtt.ConnectToken)
		if rc := ct.ReturnCode(); rc >= 1 && rc <= 5 {
			return nil, &ConnackError{Version: o.Version, Code: rc}
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	return b, nil
}

func (b *v3) markLost() { b.lostOnce.Do(func() { close(b.lost) }) }

func waitToken(ctx context.Context, t mqtt.Token, d time.Duration) error {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-t.Done():
		return t.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-tm.C:
		return errors.New("no answer from the broker in time")
	}
}

func (b *v3) publish(ctx context.Context, m Message) (byte, error) {
	return 0, waitToken(ctx, b.c.Publish(m.Topic, m.QoS, m.Retain, m.Payload), b.timeout)
}

func (b *v3) subscribe(ctx context.Context, subs []Subscription) ([]byte, error) {
	var tok mqtt.Token
	if len(subs) == 1 {
		tok = b.c.Subscribe(subs[0].Filter, subs[0].QoS, nil)
	} else {
		m := map[string]byte{}
		filters := make([]string, len(subs))
		for i, s := range subs {
			m[s.Filter] = s.QoS
			filters[i] = s.Filter
		}
		// The library sends the map in random order; order puts the
		// filters back in the order given (see order3.go).
		b.subMu.Lock()
		defer b.subMu.Unlock()
		b.order.expect(filters)
		tok = b.c.SubscribeMultiple(m, nil)
	}
	if err := waitToken(ctx, tok, b.timeout); err != nil {
		return nil, err
	}
	res := tok.(*mqtt.SubscribeToken).Result()
	codes := make([]byte, len(subs))
	for i, s := range subs {
		codes[i] = res[s.Filter]
	}
	return codes, nil
}

func (b *v3) unsubscribe(ctx context.Context, filters []string) error {
	return waitToken(ctx, b.c.Unsubscribe(filters...), b.timeout)
}

func (b *v3) disconnect() error {
	select {
	case <-b.lost:
		return errors.New("the connection was lost")
	default:
	}
	b.c.Disconnect(uint(b.timeout / time.Millisecond))
	b.markLost()
	return nil
}

func (b *v3) done() <-chan struct{} { return b.lost }

func (b *v3) ended() error {
	select {
	case <-b.lost:
		return b.lostErr
	default:
		return nil
	}
}

func (b *v3) clientID() string { return b.id }
