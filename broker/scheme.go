package broker

// The topic scheme on the publish path: with `topic_scheme FILE`, every
// PUBLISH and every will is checked against the team's topic scheme (see
// package topic). `topic_scheme_mode enforce` (the default) refuses what is
// outside it; `topic_scheme_mode log` only logs it.

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
	"mqtls/internal/hookset"
	"mqtls/topic"
)

// SchemeHook returns the hook that checks publishes against the topic
// scheme of cfg, or nil when cfg names none. [New] adds it by itself.
func SchemeHook(cfg *conf.Config, log *slog.Logger) (mqtt.Hook, error) {
	if cfg.TopicScheme == "" {
		return nil, nil
	}
	s, err := topic.LoadScheme(cfg.TopicScheme)
	if err != nil {
		return nil, fmt.Errorf("topic_scheme: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &schemeHook{scheme: s, enforce: cfg.TopicSchemeMode != "log", log: log}, nil
}

// schemeHook refuses or logs publishes outside the scheme.
//
// How a refusal looks to the client: MQTT 5 at QoS 1 gets PUBACK 0x90
// (topic name invalid) when no pattern matches, 0x83 (implementation
// specific error) when a pattern matches but not its QoS or retain flag;
// QoS 2 gets the same code in PUBREC; QoS 0 has no acknowledgement and is
// dropped. MQTT 3.1.1 cannot carry a refusal: the publish is acknowledged
// as usual and dropped, as Mosquitto does with a publish its ACL denies.
// Every refusal is logged. Topics starting with '$' ($CONTROL, $SYS)
// belong to the broker and are not checked, nor are the broker's own
// publishes.
type schemeHook struct {
	mqtt.HookBase
	scheme  *topic.Scheme
	enforce bool
	log     *slog.Logger
}

var _ mqtt.Hook = (*schemeHook)(nil)

func (h *schemeHook) ID() string { return "mqtls-topic-scheme" }

var schemeEvents = hookset.Of(mqtt.OnConnect, mqtt.OnPublish)

func (h *schemeHook) Provides(b byte) bool { return schemeEvents.Has(b) }

// check returns nil when t may be published with these flags.
func (h *schemeHook) check(t string, qos byte, retain bool) *topic.Violation {
	if len(t) > 0 && t[0] == '$' {
		return nil
	}
	if err := h.scheme.CheckPublish(t, qos, retain); err != nil {
		return err.(*topic.Violation)
	}
	return nil
}

func (h *schemeHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	refused, code, detail := h.judge(cl, &pk)
	if !refused {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion < 5 {
		if pk.FixedHeader.Qos == 0 {
			return pk, packets.ErrRejectPacket
		}
		return pk, packets.CodeSuccessIgnore
	}
	if pk.FixedHeader.Qos > 0 {
		ack := packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Puback},
			PacketID:    pk.PacketID,
			ReasonCode:  code.Code,
			Properties:  packets.Properties{ReasonString: detail},
		}
		if pk.FixedHeader.Qos == 2 {
			ack.FixedHeader.Type = packets.Pubrec
		}
		if err := cl.WritePacket(ack); err != nil {
			return pk, err
		}
	}
	return pk, packets.ErrRejectPacket
}

// judge checks a publish against the scheme and logs what is outside it;
// refused is set in enforce mode, with the v5 reason code and its detail.
func (h *schemeHook) judge(cl *mqtt.Client, pk *packets.Packet) (refused bool, code packets.Code, detail string) {
	v := h.check(pk.TopicName, pk.FixedHeader.Qos, pk.FixedHeader.Retain)
	if v == nil {
		return false, packets.CodeSuccess, ""
	}
	what := fmt.Sprintf("PUBLISH from %s (q%d, r%d, '%s')", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), pk.TopicName)
	if !h.enforce {
		h.log.Warn(fmt.Sprintf("Topic scheme: %s is outside the scheme: %s.", what, v.Detail()))
		return false, packets.CodeSuccess, ""
	}
	h.log.Warn(fmt.Sprintf("Denied %s: outside the topic scheme: %s.", what, v.Detail()))
	code = packets.ErrTopicNameInvalid
	if v.Reason != topic.NotInScheme {
		code = packets.ErrImplementationSpecificError
	}
	return true, code, v.Detail()
}

// OnConnect drops, in enforce mode, a will outside the scheme: mochi
// publishes wills without a publish check, and its OnWill hook cannot
// cancel one. The connection itself goes on.
func (h *schemeHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if !pk.Connect.WillFlag {
		return nil
	}
	v := h.check(pk.Connect.WillTopic, pk.Connect.WillQos, pk.Connect.WillRetain)
	if v == nil {
		return nil
	}
	what := fmt.Sprintf("will of %s (q%d, r%d, '%s')", cl.ID, pk.Connect.WillQos, boolInt(pk.Connect.WillRetain), pk.Connect.WillTopic)
	if !h.enforce {
		h.log.Warn(fmt.Sprintf("Topic scheme: %s is outside the scheme: %s.", what, v.Detail()))
		return nil
	}
	atomic.StoreUint32(&cl.Properties.Will.Flag, 0)
	h.log.Warn(fmt.Sprintf("Dropped %s: outside the topic scheme: %s.", what, v.Detail()))
	return nil
}

// addScheme adds the topic scheme check when topic_scheme is set.
func (b *Broker) addScheme() error {
	h, err := SchemeHook(b.cfg, b.log)
	if err != nil || h == nil {
		return err
	}
	if err := b.addHook(h, nil); err != nil {
		return fmt.Errorf("add topic scheme hook: %w", err)
	}
	b.scheme = h.(*schemeHook)
	mode := "enforced"
	if b.cfg.TopicSchemeMode == "log" {
		mode = "logged"
	}
	b.log.Info(fmt.Sprintf("Topic scheme %s (%s).", b.cfg.TopicScheme, mode))
	return nil
}
