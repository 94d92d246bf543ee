package broker

import (
	"fmt"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// DefaultMaxRetainedBytes is max_retained_bytes' default.
const DefaultMaxRetainedBytes = 64 << 20

// retainHook bounds the retained messages of the whole broker in bytes
// (max_retained_bytes): a retained publish that would take the total over
// the limit is refused (v5 QoS 1/2: PUBACK/PUBREC 0x97 quota exceeded; v3
// and QoS 0: dropped, as a refused publish), logged once each time the
// limit is reached. Replacing a retained message by one no larger, and
// clearing one, are always accepted. mochi keeps no size of its retained
// messages: the hook keeps one per topic, from the messages mochi holds
// when it is first asked (the ones restored from the store included) and
// then from every OnRetainMessage. The broker's own $SYS messages do not
// count.
type retainHook struct {
	mqtt.HookBase
	b     *Broker
	limit int64

	mu     sync.Mutex
	inited bool
	sizes  map[string]int64
	total  int64
	full   bool // the limit was reached and logged
}

var _ mqtt.Hook = (*retainHook)(nil)

// newRetainHook returns nil when retained messages are not bounded.
func newRetainHook(b *Broker) *retainHook {
	limit := int64(DefaultMaxRetainedBytes)
	if b.cfg.MaxRetainedBytes >= 0 {
		limit = b.cfg.MaxRetainedBytes
	}
	if limit == 0 {
		return nil
	}
	return &retainHook{b: b, limit: limit, sizes: map[string]int64{}}
}

func (h *retainHook) ID() string { return "mqtls-retained" }

// (OnPublish: publishHooks calls judgePublish.)
var retainEvents = hookset.Of(mqtt.OnRetainMessage, mqtt.OnRetainedExpired)

func (h *retainHook) Provides(b byte) bool { return retainEvents.Has(b) }

// retainedSize is what a retained message counts: its topic, payload and
// variable-length properties.
func retainedSize(pk packets.Packet) int64 {
	p := &pk.Properties
	n := len(pk.TopicName) + len(pk.Payload) + len(p.ContentType) + len(p.ResponseTopic) + len(p.CorrelationData)
	for _, u := range p.User {
		n += len(u.Key) + len(u.Val)
	}
	return int64(n)
}

// initLocked counts the retained messages mochi already holds.
func (h *retainHook) initLocked() {
	if h.inited {
		return
	}
	h.inited = true
	for t, pk := range h.b.server.Topics.Retained.GetAll() {
		h.setLocked(t, retainedSize(pk))
	}
}

// sysTopic reports a $SYS topic: the broker's own retained messages,
// which no client can grow, do not count.
func sysTopic(t string) bool {
	return len(t) >= 4 && strings.EqualFold(t[:4], "$SYS")
}

func (h *retainHook) setLocked(t string, n int64) {
	if sysTopic(t) {
		return
	}
	h.total += n - h.sizes[t]
	if n == 0 {
		delete(h.sizes, t)
	} else {
		h.sizes[t] = n
	}
	if h.total < h.limit {
		h.full = false
	}
}

// admit reports whether a publish may be retained: true for any publish
// that is not a retained message with a payload.
func (h *retainHook) admit(cl *mqtt.Client, pk *packets.Packet) bool {
	if h == nil || !pk.FixedHeader.Retain || len(pk.Payload) == 0 {
		return true
	}
	n := retainedSize(*pk)
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initLocked()
	if h.total-h.sizes[pk.TopicName]+n <= h.limit {
		return true
	}
	if !h.full {
		h.full = true
		h.b.log.Warn(fmt.Sprintf("Retained message from %s (%d bytes) refused: the retained messages hold %d bytes, max_retained_bytes is %d (logged once until they shrink).",
			cl.ID, n, h.total, h.limit))
	}
	return false
}

// OnPublish is judgePublish as mochi would call it.
func (h *retainHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, h.judgePublish(cl, &pk)
}

// judgePublish drops a QoS 0 retained publish over the limit (QoS 1 and 2
// are judged by the inbound hook, which answers 0x97).
func (h *retainHook) judgePublish(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline || pk.FixedHeader.Qos > 0 || h.admit(cl, pk) {
		return nil
	}
	return packets.CodeSuccessIgnore
}

func (h *retainHook) OnRetainMessage(_ *mqtt.Client, pk packets.Packet, _ int64) {
	n := int64(0)
	if len(pk.Payload) > 0 {
		n = retainedSize(pk)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initLocked()
	h.setLocked(pk.TopicName, n)
}

func (h *retainHook) OnRetainedExpired(t string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.initLocked()
	h.setLocked(t, 0)
}
