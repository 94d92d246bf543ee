package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// packetIDHook works around mochi keeping one packet-id space per client for
// both directions. MQTT gives client and server separate spaces, so a client
// that resumes a session and subscribes with packet id 1 while the broker
// resends its queued message 1 would get "packet identifier in use" from
// mochi and lose the subscription. The hook renames such a SUBSCRIBE or
// UNSUBSCRIBE to a free id on the way in and restores the client's id in
// the SUBACK or UNSUBACK on the way out.
type packetIDHook struct {
	mqtt.HookBase
	mu      sync.Mutex
	renamed map[idKey]uint16 // (client, id used inside) -> client's id
}

type idKey struct {
	cl *mqtt.Client
	id uint16
}

var _ mqtt.Hook = (*packetIDHook)(nil)

func (h *packetIDHook) ID() string { return "mqtls-packet-ids" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var packetIDSpec = hookSpec{
	events: hookset.Of(mqtt.OnDisconnect),
	read:   typesOf(packets.Subscribe, packets.Unsubscribe),
	enc:    typesOf(packets.Suback, packets.Unsuback),
}

func (h *packetIDHook) Provides(b byte) bool { return packetIDSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *packetIDHook) PacketTypes(event byte) uint16 { return packetIDSpec.packetTypes(event) }

func (h *packetIDHook) Init(any) error {
	h.renamed = map[idKey]uint16{}
	return nil
}

func (h *packetIDHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	t := pk.FixedHeader.Type
	if t != packets.Subscribe && t != packets.Unsubscribe {
		return pk, nil
	}
	if _, busy := cl.State.Inflight.Get(pk.PacketID); !busy {
		return pk, nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for id := uint16(65535); id > 0; id-- {
		if _, busy := cl.State.Inflight.Get(id); busy {
			continue
		}
		if _, used := h.renamed[idKey{cl, id}]; used {
			continue
		}
		h.renamed[idKey{cl, id}] = pk.PacketID
		pk.PacketID = id
		break
	}
	return pk, nil
}

func (h *packetIDHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	t := pk.FixedHeader.Type
	if t != packets.Suback && t != packets.Unsuback {
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := idKey{cl, pk.PacketID}
	if orig, ok := h.renamed[k]; ok {
		pk.PacketID = orig
		delete(h.renamed, k)
	}
	return pk
}

func (h *packetIDHook) OnDisconnect(cl *mqtt.Client, _ error, _ bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.renamed {
		if k.cl == cl {
			delete(h.renamed, k)
		}
	}
}
