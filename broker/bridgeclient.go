package broker

import (
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// bridgeClientHook gives a client that connects as a bridge (Mosquitto's
// try_private: the protocol level's high bit, 0x83 or 0x84) what Mosquitto
// gives it: a message it published is not sent back to it (as if every
// subscription had MQTT 5's No Local), which breaks the loop of a "both"
// topic between two brokers, and the retain flag of what it receives is
// kept as published, so that retained messages cross the bridge as
// retained. It runs before the fidelity hook, which clears the bit.
type bridgeClientHook struct {
	mqtt.HookBase
	bridges sync.Map // *mqtt.Client -> struct{}
}

var _ mqtt.Hook = (*bridgeClientHook)(nil)

func (h *bridgeClientHook) ID() string { return "mqtls-bridge-client" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var bridgeClientSpec = hookSpec{
	events: hookset.Of(mqtt.OnSubscribe, mqtt.OnDisconnect),
	read:   typesOf(packets.Connect),
}

func (h *bridgeClientHook) Provides(b byte) bool { return bridgeClientSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *bridgeClientHook) PacketTypes(event byte) uint16 { return bridgeClientSpec.packetTypes(event) }

func (h *bridgeClientHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if pk.FixedHeader.Type == packets.Connect && (pk.ProtocolVersion == bridgeBit|3 || pk.ProtocolVersion == bridgeBit|4) {
		h.bridges.Store(cl, struct{}{})
	}
	return pk, nil
}

func (h *bridgeClientHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if _, ok := h.bridges.Load(cl); !ok {
		return pk
	}
	filters := make(packets.Subscriptions, len(pk.Filters))
	for i, f := range pk.Filters {
		if _, shared := sharedFilter(f.Filter); !shared {
			f.NoLocal = true
		}
		// mochi keeps the retain flag of a delivery to a client before
		// MQTT 5 only with FwdRetainedFlag, which the store cannot keep:
		// Retain As Published is what it keeps, and what it restores as
		// FwdRetainedFlag for such a client (package store).
		f.RetainAsPublished = true
		f.FwdRetainedFlag = true
		filters[i] = f
	}
	pk.Filters = filters
	return pk
}

func (h *bridgeClientHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.bridges.Delete(cl)
}

// bridgeStateTopic reports a bridge's notification topic,
// $SYS/broker/connection/NAME/state: as in Mosquitto, the one $SYS topic a
// client may publish to (QoS 1 or 2, the access control permitting) and
// use as its will, so that a bridge's state shows on both of its brokers.
func bridgeStateTopic(t string) bool {
	name, ok := strings.CutPrefix(t, "$SYS/broker/connection/")
	if !ok {
		return false
	}
	name, ok = strings.CutSuffix(name, "/state")
	return ok && name != "" && !strings.ContainsAny(name, "/+#")
}
