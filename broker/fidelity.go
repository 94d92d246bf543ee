package broker

import (
	"bytes"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
)

// DefaultReceiveMaximum is the Receive Maximum a v5 CONNACK announces when
// max_inflight_messages is not set: Mosquitto's default.
const DefaultReceiveMaximum = 20

// fidelityHook makes what mochi sends on the wire what Mosquitto 2.0 sends
// where the two differ and MQTT lets a server choose (the differential test
// in internal/mosqdiff shows each case):
//   - a v5 CONNACK announces Receive Maximum from max_inflight_messages
//     (default 20), Topic Alias Maximum from max_topic_alias (default 10),
//     Maximum Packet Size when max_packet_size is set, and Retain Available 0
//     with retain_available false (mochi leaves out all but the first);
//   - a v3 client never gets a DISCONNECT (MQTT 3.1.1 has none from the
//     server), and a refused v3 CONNECT gets a v3 return code or, where
//     3.1.1 has none (a malformed CONNECT), a closed connection;
//   - a Mosquitto bridge's CONNECT (protocol level with the bridge bit,
//     0x83 or 0x84) is read as the plain protocol level.
type fidelityHook struct {
	mqtt.HookBase
	receiveMax    uint16
	topicAliasMax uint16
	maxPacketSize uint32 // announced; 0: not configured, not announced
	retain        bool
}

var _ mqtt.Hook = (*fidelityHook)(nil)

func newFidelityHook(cfg *conf.Config) *fidelityHook {
	h := &fidelityHook{
		receiveMax:    DefaultReceiveMaximum,
		topicAliasMax: uint16(cfg.MaxTopicAlias),
		retain:        cfg.RetainAvailable,
	}
	switch {
	case cfg.MaxInflightMessages > 0:
		h.receiveMax = uint16(cfg.MaxInflightMessages)
	case cfg.MaxInflightMessages == 0:
		h.receiveMax = 65535
	}
	if cfg.MaxPacketSize > 0 {
		h.maxPacketSize = uint32(cfg.MaxPacketSize)
	}
	return h
}

func (h *fidelityHook) ID() string { return "mqtls-fidelity" }

func (h *fidelityHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnPacketRead, mqtt.OnPacketEncode}, []byte{b})
}

func (h *fidelityHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// bridgeBit marks the protocol level of a Mosquitto bridge's CONNECT.
const bridgeBit = 0x80

func (h *fidelityHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Connect && (pk.ProtocolVersion == bridgeBit|3 || pk.ProtocolVersion == bridgeBit|4) {
		pk.ProtocolVersion &^= bridgeBit
	}
	return pk, nil
}

// v3ConnackCodes maps the v5 reason codes of refused CONNECTs onto MQTT
// 3.1.1 return codes; a code not listed closes the connection without a
// CONNACK, as Mosquitto does for a malformed CONNECT.
var v3ConnackCodes = map[byte]byte{
	packets.ErrUnsupportedProtocolVersion.Code: 1,
	packets.ErrClientIdentifierNotValid.Code:   2,
	packets.ErrServerUnavailable.Code:          3,
	packets.ErrServerBusy.Code:                 3,
	packets.ErrBadUsernameOrPassword.Code:      4,
	packets.ErrNotAuthorized.Code:              5,
}

// dropPacket makes mochi's WritePacket refuse to encode a packet, so that
// nothing is sent; mochi goes on as if the write had failed.
const dropPacket = 0

func (h *fidelityHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	v5 := cl.Properties.ProtocolVersion >= 5
	switch pk.FixedHeader.Type {
	case packets.Connack:
		if !v5 {
			if pk.ReasonCode >= 0x80 {
				code, ok := v3ConnackCodes[pk.ReasonCode]
				if !ok {
					pk.FixedHeader.Type = dropPacket
				}
				pk.ReasonCode = code
			}
			return pk
		}
		if pk.ReasonCode >= 0x80 {
			return pk
		}
		pk.Properties.ReceiveMaximum = h.receiveMax
		pk.Properties.TopicAliasMaximum = h.topicAliasMax
		if h.maxPacketSize > 0 {
			pk.Properties.MaximumPacketSize = h.maxPacketSize
		}
		if !h.retain {
			pk.Properties.RetainAvailable = 0
			pk.Properties.RetainAvailableFlag = true
		}
	case packets.Disconnect:
		if !v5 {
			pk.FixedHeader.Type = dropPacket
		}
	}
	return pk
}
