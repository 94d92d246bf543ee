package broker

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/topic"
)

// schemeHook checks every client PUBLISH against the topic scheme of
// topic_scheme. In "log" mode a publish outside it is logged and delivered;
// in "enforce" mode (the default) it is refused: a v5 QoS 1 publish gets
// PUBACK reason 0x90 (topic name invalid), other publishes are acknowledged
// as usual and dropped, as a refused v3 ACL publish is. Topics
// starting with '$' and the broker's own publishes are not checked.
type schemeHook struct {
	mqtt.HookBase
	scheme  *topic.Scheme
	enforce bool
	log     *slog.Logger
}

var _ mqtt.Hook = (*schemeHook)(nil)

func (h *schemeHook) ID() string { return "mqtls-topic-scheme" }

func (h *schemeHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPublish}, []byte{b})
}

func (h *schemeHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline || strings.HasPrefix(pk.TopicName, "$") {
		return pk, nil
	}
	err := h.scheme.CheckPublish(pk.TopicName, pk.FixedHeader.Qos, pk.FixedHeader.Retain)
	if err == nil {
		return pk, nil
	}
	if !h.enforce {
		h.log.Warn(fmt.Sprintf("Client %s published outside the topic scheme: %v.", cl.ID, err))
		return pk, nil
	}
	h.log.Warn(fmt.Sprintf("Client %s publish refused: %v.", cl.ID, err))
	// mochi answers a refused QoS 2 publish with a PUBACK, not a PUBREC, so
	// only QoS 1 carries the reason code.
	if cl.Properties.ProtocolVersion >= 5 && pk.FixedHeader.Qos == 1 {
		return pk, packets.ErrTopicNameInvalid
	}
	return pk, packets.CodeSuccessIgnore
}

// addScheme adds the topic scheme check when topic_scheme is set.
func (b *Broker) addScheme() error {
	if b.cfg.TopicScheme == "" {
		return nil
	}
	s, err := topic.LoadScheme(b.cfg.TopicScheme)
	if err != nil {
		return err
	}
	h := &schemeHook{scheme: s, enforce: b.cfg.TopicSchemeMode != "log", log: b.log}
	if err := b.server.AddHook(h, nil); err != nil {
		return fmt.Errorf("add topic scheme hook: %w", err)
	}
	mode := "enforced"
	if !h.enforce {
		mode = "logged"
	}
	b.log.Info(fmt.Sprintf("Topic scheme %s (%s).", b.cfg.TopicScheme, mode))
	return nil
}
