package broker

import (
	"bytes"
	"fmt"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/rs/xid"
)

// clientOptsHook applies the Mosquitto options about client ids and
// payloads: allow_zero_length_clientid, auto_id_prefix (per listener with
// per_listener_settings true) and message_size_limit.
type clientOptsHook struct {
	mqtt.HookBase
	b *Broker
}

func (h *clientOptsHook) ID() string { return "mqtls-client-options" }

func (h *clientOptsHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnConnect, mqtt.OnPublish}, []byte{b})
}

// OnConnect runs before the session is looked up, so that an id given here
// is the session's id.
func (h *clientOptsHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
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

// OnPublish drops a payload larger than message_size_limit, completing the
// QoS flow as Mosquitto does: v5 QoS 1/2 get PUBACK/PUBREC 0x83
// (implementation specific error), the others a normal acknowledgement.
func (h *clientOptsHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	limit := h.b.cfg.MessageSizeLimit
	if limit <= 0 || len(pk.Payload) <= limit || cl.Net.Inline {
		return pk, nil
	}
	h.b.log.Debug(fmt.Sprintf("Dropped too large PUBLISH from %s (q%d, r%d, '%s', ... (%d bytes)).", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), pk.TopicName, len(pk.Payload)))
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 1 {
		return pk, packets.ErrImplementationSpecificError
	}
	if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Qos == 2 {
		rec := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pk.PacketID, ReasonCode: packets.ErrImplementationSpecificError.Code}
		if err := cl.WritePacket(rec); err != nil {
			return pk, err
		}
		return pk, packets.ErrRejectPacket
	}
	return pk, packets.CodeSuccessIgnore
}
