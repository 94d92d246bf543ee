package dynsec

import (
	"context"
	"errors"
	"fmt"

	mqttc "mqtls/client"
)

// ErrNoResponse is returned by [Remote] when the broker does not answer in
// time (mosquitto_ctrl waits 10 seconds and prints nothing).
var ErrNoResponse = errors.New("no answer from the broker's dynamic security")

// Remote sends one request to a live broker the way mosquitto_ctrl does:
// connect, subscribe to [ResponseTopic], publish the request on
// [ControlTopic] at QoS 1, and return the first response. ctx bounds the
// whole exchange.
func Remote(ctx context.Context, o mqttc.Options, request []byte) ([]byte, error) {
	c, err := mqttc.Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	got := make(chan []byte, 1)
	codes, err := c.Subscribe(ctx, []mqttc.Subscription{{Filter: ResponseTopic, QoS: 1}}, func(m mqttc.Message) {
		select {
		case got <- m.Payload:
		default:
		}
	})
	if err != nil {
		return nil, err
	}
	if len(codes) != 1 || codes[0] >= 0x80 {
		return nil, fmt.Errorf("the broker refused the subscription to %s: is %q a dynamic security admin?", ResponseTopic, o.Username)
	}
	if err := c.Publish(ctx, mqttc.Message{Topic: ControlTopic, Payload: request, QoS: 1}); err != nil {
		return nil, fmt.Errorf("send request: %w", err)
	}
	select {
	case p := <-got:
		return p, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: is the dynamic security plugin enabled, and may %q publish to %s?", ErrNoResponse, o.Username, ControlTopic)
	}
}
