package broker

import (
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/xid"

	"mqtls/internal/hookset"
)

// clientOptsHook applies the Mosquitto options about client ids and
// payloads: allow_zero_length_clientid, auto_id_prefix (per listener with
// per_listener_settings true) and message_size_limit (on QoS 0 publishes and wills).
type clientOptsHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *clientOptsHook) ID() string { return "mqtls-client-options" }

// (OnPublish: publishHooks calls judgePublish.)
var clientOptsEvents = hookset.Of(mqtt.OnConnect)

func (h *clientOptsHook) Provides(b byte) bool { return clientOptsEvents.Has(b) }

// OnConnect runs before the session is looked up, so that an id given here
// is the session's id.
func (h *clientOptsHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if h.b.tooLargeWill(cl, pk) {
		code := packets.ErrPacketTooLarge
		if cl.Properties.ProtocolVersion < 5 {
			code = packets.ErrNotAuthorized // 3.1.1 return code 5
		}
		if err := h.b.server.SendConnack(cl, code, false, nil); err != nil {
			return fmt.Errorf("refuse too large will: %w", err)
		}
		return code
	}
	if pk.Connect.ClientIdentifier != "" {
		return nil
	}
	ls := h.b.lis[cl.Net.Listener]
	if ls == nil {
		return nil
	}
	sec := h.b.cfg.SecurityFor(ls.conf)
	if sec.NoZeroLengthClientID {
		// Mosquitto: v3 CONNACK 2 (identifier rejected), v5 0x85.
		if err := h.b.server.SendConnack(cl, packets.ErrClientIdentifierNotValid, false, nil); err != nil {
			return fmt.Errorf("refuse empty client id: %w", err)
		}
		return packets.ErrClientIdentifierNotValid
	}
	if sec.AutoIDPrefix != "" {
		cl.ID = sec.AutoIDPrefix + xid.New().String()
		cl.Properties.Props.AssignedClientID = cl.ID
	}
	return nil
}

// OnPublish is judgePublish as mochi would call it.
func (h *clientOptsHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, h.judgePublish(cl, &pk)
}

// judgePublish drops a QoS 0 PUBLISH whose payload is over
// message_size_limit, as Mosquitto does; QoS 1 and 2 publishes are the
// inbound hook's, which refuses them with the same test (see tooLarge).
func (h *clientOptsHook) judgePublish(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline || !h.b.tooLarge(cl, pk) {
		return nil
	}
	return packets.CodeSuccessIgnore
}

// tooLarge reports, and logs, a PUBLISH whose payload is over
// message_size_limit. Mosquitto 2.0 drops it and completes its QoS flow:
// a v5 QoS 1/2 publish gets PUBACK/PUBREC 0x95 (packet too large), a v3
// one a plain acknowledgement, so that the publisher moves on.
func (b *Broker) tooLarge(cl *mqtt.Client, pk *packets.Packet) bool {
	limit := b.cfg.MessageSizeLimit
	if limit <= 0 || len(pk.Payload) <= limit {
		return false
	}
	if !b.debug {
		return true
	}
	b.log.Debug(fmt.Sprintf("Dropped too large PUBLISH from %s (q%d, r%d, '%s', ... (%d bytes)).", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), pk.TopicName, len(pk.Payload)))
	return true
}

// tooLargeWill reports, and logs, a CONNECT whose will payload is over
// message_size_limit: Mosquitto refuses the connection (v3 CONNACK 5, v5
// 0x95).
func (b *Broker) tooLargeWill(cl *mqtt.Client, pk packets.Packet) bool {
	limit := b.cfg.MessageSizeLimit
	if limit <= 0 || !pk.Connect.WillFlag || len(pk.Connect.WillPayload) <= limit {
		return false
	}
	b.log.Debug(fmt.Sprintf("Client %s connected with too large Will payload.", pk.Connect.ClientIdentifier))
	return true
}
