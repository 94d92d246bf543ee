package broker

import (
	"fmt"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// Per-client bounds on what a client's packets make the broker hold or do.
const (
	// MaxTopicLevels is the most levels a topic name or filter may have,
	// as in Mosquitto (its TOPIC_HIERARCHY_LIMIT). Matching, ACL checks and
	// mochi's subscription tree all cost work per level: a 65,535-level
	// filter took seconds of CPU, during which other clients' SUBSCRIBEs
	// waited for the tree.
	MaxTopicLevels = 200
	// DefaultMaxTopicLength is max_topic_length's default: MQTT's own
	// limit on a string.
	DefaultMaxTopicLength = 65535
	// DefaultMaxSubscriptions is max_subscriptions' default.
	DefaultMaxSubscriptions = 1000
)

// limitsHook refuses, before mochi does any work on it, a packet whose
// topics are longer or deeper than allowed, or a SUBSCRIBE that takes a
// client over its number of subscriptions; such a client is disconnected,
// as Mosquitto disconnects one whose topic has too many levels. It runs
// before every other hook. It also caps the topic aliases the broker keeps
// for a client's deliveries (the client chooses that number, up to 65,535
// names of up to 64 KiB each).
type limitsHook struct {
	mqtt.HookBase
	b       *Broker
	maxLen  int
	maxSubs int
}

var _ mqtt.Hook = (*limitsHook)(nil)

func newLimitsHook(b *Broker) *limitsHook {
	h := &limitsHook{b: b, maxLen: DefaultMaxTopicLength, maxSubs: DefaultMaxSubscriptions}
	if b.cfg.MaxTopicLength > 0 {
		h.maxLen = b.cfg.MaxTopicLength
	}
	if b.cfg.MaxSubscriptions > 0 {
		h.maxSubs = b.cfg.MaxSubscriptions
	}
	return h
}

func (h *limitsHook) ID() string { return "mqtls-limits" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var limitsSpec = hookSpec{
	events: hookset.Of(mqtt.OnConnect),
	read:   typesOf(packets.Publish, packets.Subscribe, packets.Unsubscribe),
}

func (h *limitsHook) Provides(b byte) bool { return limitsSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *limitsHook) PacketTypes(event byte) uint16 { return limitsSpec.packetTypes(event) }

// OnConnect turns off the topic aliases mochi would use for deliveries to
// the client, as Mosquitto uses none: mochi replaces a topic by its alias
// from the second message on, so a client that missed the first (dropped
// from a full write queue, dropped or still held by the send window while
// a later QoS 0 message goes out, or sent on an earlier connection before
// a resumed session's resend) gets a topic alias it never learnt, a
// protocol error.
func (h *limitsHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if cl.Properties.Props.TopicAliasMaximum > 0 {
		cl.Properties.Props.TopicAliasMaximum = 0
		cl.State.TopicAliases.Outbound = mqtt.NewOutboundTopicAliases(0)
	}
	return nil
}

// OnPacketReadInPlace checks the topics of PUBLISH, SUBSCRIBE and UNSUBSCRIBE.
func (h *limitsHook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	var err error
	// The reason a v5 client is told, as from Mosquitto: a topic with too
	// many levels is a protocol error in a PUBLISH and a malformed packet
	// in a SUBSCRIBE or UNSUBSCRIBE (Mosquitto has no length limit; ours
	// is answered the same way).
	code := packets.ErrProtocolViolation
	switch pk.FixedHeader.Type {
	case packets.Publish:
		err = h.checkTopic("topic", pk.TopicName)
	case packets.Subscribe:
		code = packets.ErrMalformedPacket
		err = h.checkFilters(pk.Filters)
		if err == nil {
			if err = h.checkSubscriptions(cl, pk.Filters); err != nil {
				code = packets.ErrQuotaExceeded
			}
		}
	case packets.Unsubscribe:
		code = packets.ErrMalformedPacket
		err = h.checkFilters(pk.Filters)
	}
	if err != nil {
		h.b.log.Warn(fmt.Sprintf("Client %s disconnected: %v.", cl.ID, err))
		sayDisconnect(cl, code)
		return packets.ErrRejectPacket
	}
	return nil
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *limitsHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// sayDisconnect tells a v5 client why it is disconnected, on its read
// goroutine, just before mochi closes the connection (mochi says nothing
// to a client whose packet a hook rejects). The DISCONNECT carries no
// reason string, as from Mosquitto.
func sayDisconnect(cl *mqtt.Client, code packets.Code) {
	if cl.Properties.ProtocolVersion != 5 {
		return
	}
	_ = cl.WritePacket(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: code.Code})
	// Writes held for the read goroutine's next read go out now: the
	// next thing mochi does is close.
	if f, ok := cl.Net.Conn.(interface{ flush() error }); ok {
		_ = f.flush()
	}
}

func (h *limitsHook) checkFilters(fs packets.Subscriptions) error {
	for _, f := range fs {
		if err := h.checkTopic("filter", f.Filter); err != nil {
			return err
		}
	}
	return nil
}

// checkTopic bounds one topic or filter; it looks at each byte once and
// quotes none of it (it may be 64 KiB long).
func (h *limitsHook) checkTopic(what, t string) error {
	if len(t) > h.maxLen {
		return fmt.Errorf("%s of %d bytes is over max_topic_length %d", what, len(t), h.maxLen)
	}
	if n := strings.Count(t, "/") + 1; n > MaxTopicLevels {
		return fmt.Errorf("%s of %d levels is over the limit of %d", what, n, MaxTopicLevels)
	}
	return nil
}

// checkSubscriptions refuses a SUBSCRIBE that would take the client over
// max_subscriptions (a filter it already has replaces it). The parent level
// P that the wildcard hook subscribes beside a "P/#" is not counted.
func (h *limitsHook) checkSubscriptions(cl *mqtt.Client, fs packets.Subscriptions) error {
	subs := cl.State.Subscriptions.GetAll()
	n := 0
	for f := range subs {
		if _, companion := subs[f+"/#"]; !companion {
			n++
		}
	}
	for _, f := range fs {
		if _, ok := subs[f.Filter]; !ok {
			n++
		}
	}
	if n > h.maxSubs {
		return fmt.Errorf("%d subscriptions would be over max_subscriptions %d", n, h.maxSubs)
	}
	return nil
}
