package ctl

// A connection to a live broker's control API, as mosquitto_ctrl holds one.

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	mqttc "mqtls/client"
	"mqtls/dynsec"
)

// Timeout is mosquitto_ctrl's wait for an answer; [Conn.Exec] applies it
// when the context has no deadline of its own.
const Timeout = 10 * time.Second

// ErrNoResponse is returned when the broker does not answer in time
// (mosquitto_ctrl waits 10 seconds and prints nothing).
var ErrNoResponse = errors.New("no answer from the broker's dynamic security")

// Conn is a connection to a live broker's control API, subscribed to
// [dynsec.ResponseTopic], one request in flight at a time. It is the live
// broker [Target].
type Conn struct {
	mu   sync.Mutex // one request in flight
	c    *mqttc.Conn
	user string
	resp chan []byte
}

var _ Target = (*Conn)(nil)

// Dial connects with o (an admin whose roles allow
// $CONTROL/dynamic-security/#) and subscribes to the control API's answers.
func Dial(ctx context.Context, o mqttc.Options) (*Conn, error) {
	c, err := mqttc.Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	conn := &Conn{c: c, user: o.Username, resp: make(chan []byte, 16)}
	codes, err := c.Subscribe(ctx, []mqttc.Subscription{{Filter: dynsec.ResponseTopic, QoS: 1}}, func(m mqttc.Message) {
		select {
		case conn.resp <- m.Payload:
		default:
		}
	})
	if err == nil && (len(codes) != 1 || codes[0] >= 0x80) {
		err = fmt.Errorf("the broker refused the subscription to %s: is %q a dynamic security admin?", dynsec.ResponseTopic, o.Username)
	}
	if err != nil {
		c.Close()
		return nil, err
	}
	return conn, nil
}

// Exec publishes one request on [dynsec.ControlTopic] at QoS 1 and returns
// the first answer. ctx bounds the wait ([Timeout] when it has no deadline).
func (c *Conn) Exec(ctx context.Context, request []byte) ([]byte, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, Timeout)
		defer cancel()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	// Drop answers to earlier requests that timed out.
	for len(c.resp) > 0 {
		<-c.resp
	}
	if err := c.c.Publish(ctx, mqttc.Message{Topic: dynsec.ControlTopic, Payload: request, QoS: 1}); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	select {
	case p := <-c.resp:
		return p, nil
	case <-c.c.Done():
		return nil, errors.New("the broker closed the connection")
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: is the dynamic security plugin enabled, and may %q publish to %s?", ErrNoResponse, c.user, dynsec.ControlTopic)
	}
}

// Live is true: the broker saves every change itself.
func (c *Conn) Live() bool { return true }

// Flush does nothing: the broker saved every change when it made it.
func (c *Conn) Flush() error { return nil }

// Close disconnects.
func (c *Conn) Close() error { return c.c.Close() }
