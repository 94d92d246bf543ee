package broker

import (
	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// publishHooks runs, as one mochi hook, the OnPublish of our hooks that
// only judge a publish (access control, max_retained_bytes,
// message_size_limit): mochi's loop copies the 800-byte packet in and out
// of every hook that provides OnPublish, for every QoS 0 message and every
// delivery of a QoS 1/2 one, and these never change it. They are called in
// the order they were added, and the first error ends the loop with the
// packet as it came, as in mochi's loop. No hook that provides OnPublish
// to mochi sits between them, so mochi's order is kept.
type publishHooks struct {
	mqtt.HookBase
	judges []publishJudge
}

// publishJudge is a hook whose OnPublish only judges: judgePublish returns
// nil or the error that ends mochi's loop, and leaves the packet as it is.
// Such a hook does not provide OnPublish to mochi.
type publishJudge interface {
	judgePublish(cl *mqtt.Client, pk *packets.Packet) error
}

var publishEvents = hookset.Of(mqtt.OnPublish)

func (p *publishHooks) ID() string { return "mqtls-publish" }

func (p *publishHooks) Provides(b byte) bool { return publishEvents.Has(b) }

// add takes over h's OnPublish when h only judges, and returns h.
func (p *publishHooks) add(h mqtt.Hook) mqtt.Hook {
	if j, ok := h.(publishJudge); ok {
		p.judges = append(p.judges, j)
	}
	return h
}

func (p *publishHooks) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, p.judge(cl, &pk)
}

// judge is OnPublish on pk itself (hookLoop calls it): the first judge's
// error, or nil.
func (p *publishHooks) judge(cl *mqtt.Client, pk *packets.Packet) error {
	for _, j := range p.judges {
		if err := judgePublish(j, cl, pk); err != nil {
			return err
		}
	}
	return nil
}

// judgePublish runs j's judgePublish on pk. Our hooks are called by their
// type: through the interface pk would escape, an 800-byte allocation for
// every message. Another judge works on a copy.
func judgePublish(j publishJudge, cl *mqtt.Client, pk *packets.Packet) error {
	switch j := j.(type) {
	case *authHook:
		return j.judgePublish(cl, pk)
	case *retainHook:
		return j.judgePublish(cl, pk)
	case *clientOptsHook:
		return j.judgePublish(cl, pk)
	}
	q := *pk
	return j.judgePublish(cl, &q)
}
