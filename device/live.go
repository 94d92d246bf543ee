package device

// The live target: a running broker's $CONTROL/dynamic-security/v1 API,
// one request at a time, as mosquitto_ctrl talks to it.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"mqtls/client"
	"mqtls/dynsec"
)

// liveTimeout bounds the wait for one answer of the control API.
const liveTimeout = 10 * time.Second

type liveTarget struct {
	mu   sync.Mutex // one request in flight
	conn *client.Conn
	resp chan []byte
}

// Dial connects to a running broker with o (an admin whose roles allow
// $CONTROL/dynamic-security/#) and subscribes to the control API's answers.
func Dial(ctx context.Context, o client.Options) (Target, error) {
	conn, err := client.Connect(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker: %w", err)
	}
	t := &liveTarget{conn: conn, resp: make(chan []byte, 16)}
	codes, err := conn.Subscribe(ctx, []client.Subscription{{Filter: dynsec.ResponseTopic, QoS: 1}}, func(m client.Message) {
		select {
		case t.resp <- m.Payload:
		default:
		}
	})
	if err == nil && len(codes) > 0 && codes[0] >= 0x80 {
		err = errors.New("the broker refused the subscription: the user needs a role that allows $CONTROL/dynamic-security/#")
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("subscribe to %s: %w", dynsec.ResponseTopic, err)
	}
	return t, nil
}

func (t *liveTarget) Live() bool   { return true }
func (t *liveTarget) Flush() error { return nil }
func (t *liveTarget) Close() error { return t.conn.Close() }

func (t *liveTarget) Exec(payload []byte) ([]byte, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), liveTimeout)
	defer cancel()
	// Drop answers to earlier requests that timed out.
	for len(t.resp) > 0 {
		<-t.resp
	}
	if err := t.conn.Publish(ctx, client.Message{Topic: dynsec.ControlTopic, Payload: payload, QoS: 1}); err != nil {
		return nil, fmt.Errorf("publish to %s: %w", dynsec.ControlTopic, err)
	}
	select {
	case p := <-t.resp:
		return p, nil
	case <-t.conn.Done():
		return nil, errors.New("the broker closed the connection")
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from %s within %s: is the dynamic security plugin loaded?", dynsec.ControlTopic, liveTimeout)
	}
}
