package broker

import (
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
	"mqtls/internal/hookset"
	"mqtls/topic"
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
//     0x83 or 0x84) is read as the plain protocol level;
//   - a will with an empty payload is accepted (mochi refuses it);
//   - the packets Mosquitto refuses and mochi lets through close the
//     connection, with a v5 DISCONNECT carrying Mosquitto's reason code:
//     packet identifier 0 (PUBLISH 0x82, SUBSCRIBE and UNSUBSCRIBE 0x81),
//     an invalid topic filter (0x81), a topic alias never set (0x82), a
//     retained publish with retain_available false (0x9A), an ack of the
//     wrong kind for a delivery (no DISCONNECT).
type fidelityHook struct {
	mqtt.HookBase
	server        *mqtt.Server
	receiveMax    uint16
	topicAliasMax uint16
	maxPacketSize uint32 // announced; 0: not configured, not announced
	retain        bool

	// emptyWill holds the clients whose will payload is empty between
	// OnPacketRead (which gives mochi's validation a placeholder) and
	// OnConnect (which empties it again).
	emptyWill sync.Map // *mqtt.Client -> struct{}
	// aliases holds, per v5 client, the topic aliases it has set.
	aliases sync.Map // *mqtt.Client -> *aliasSet
}

type aliasSet struct {
	mu  sync.Mutex
	set map[uint16]bool
}

var _ mqtt.Hook = (*fidelityHook)(nil)

func newFidelityHook(cfg *conf.Config, server *mqtt.Server) *fidelityHook {
	h := &fidelityHook{
		server:        server,
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

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var fidelitySpec = hookSpec{
	events: hookset.Of(mqtt.OnConnect, mqtt.OnDisconnect),
	read:   typesOf(packets.Connect, packets.Publish, packets.Subscribe, packets.Disconnect, packets.Unsubscribe, packets.Puback, packets.Pubrec),
	enc:    typesOf(packets.Connack, packets.Disconnect, packets.Publish),
}

func (h *fidelityHook) Provides(b byte) bool { return fidelitySpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *fidelityHook) PacketTypes(event byte) uint16 { return fidelitySpec.packetTypes(event) }

func (h *fidelityHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// bridgeBit marks the protocol level of a Mosquitto bridge's CONNECT.
const bridgeBit = 0x80

// willPlaceholder stands in for an empty will payload during mochi's
// CONNECT validation only.
var willPlaceholder = []byte{0}

func (h *fidelityHook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	switch pk.FixedHeader.Type {
	case packets.Connect:
		if pk.ProtocolVersion == bridgeBit|3 || pk.ProtocolVersion == bridgeBit|4 {
			pk.ProtocolVersion &^= bridgeBit
		}
		if pk.Connect.WillFlag && len(pk.Connect.WillPayload) == 0 {
			pk.Connect.WillPayload = willPlaceholder
			h.emptyWill.Store(cl, struct{}{})
		}
	case packets.Publish:
		if pk.FixedHeader.Qos > 0 && pk.PacketID == 0 {
			return h.protocolError(cl, packets.ErrProtocolViolation)
		}
		if pk.FixedHeader.Retain && !h.retain {
			return h.protocolError(cl, packets.ErrRetainNotSupported)
		}
		if cl.Properties.ProtocolVersion == 5 && pk.Properties.TopicAliasFlag && pk.Properties.TopicAlias > 0 && pk.Properties.TopicAlias <= h.topicAliasMax {
			if !h.alias(cl, pk.Properties.TopicAlias, pk.TopicName != "") {
				return h.protocolError(cl, packets.ErrProtocolViolation)
			}
		}
	case packets.Subscribe:
		if pk.PacketID == 0 {
			return h.protocolError(cl, packets.ErrMalformedPacket)
		}
		for _, f := range pk.Filters {
			if topic.ValidFilter(f.Filter) != nil {
				return h.protocolError(cl, packets.ErrMalformedPacket)
			}
		}
	case packets.Disconnect:
		if cl.Properties.ProtocolVersion == 5 && pk.FixedHeader.Remaining == 1 {
			// mochi's decoder reads the reason code only when properties
			// follow; the connection saw it (see frameConn).
			if fc, ok := cl.Net.Conn.(interface{ disconnectReason() (byte, bool) }); ok {
				if rc, ok := fc.disconnectReason(); ok {
					pk.ReasonCode = rc
				}
			}
		}
	case packets.Unsubscribe:
		if pk.PacketID == 0 {
			return h.protocolError(cl, packets.ErrMalformedPacket)
		}
	case packets.Puback, packets.Pubrec:
		// An ack of the wrong kind for a delivery in flight (PUBACK for
		// QoS 2, PUBREC for QoS 1) closes the connection, as in Mosquitto.
		want := byte(1)
		if pk.FixedHeader.Type == packets.Pubrec {
			want = 2
		}
		if in, ok := cl.State.Inflight.Get(pk.PacketID); ok && in.FixedHeader.Type == packets.Publish && in.FixedHeader.Qos != want {
			return packets.ErrRejectPacket
		}
	}
	return nil
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *fidelityHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// alias records that cl sets alias n (set) or reports whether it has.
func (h *fidelityHook) alias(cl *mqtt.Client, n uint16, set bool) bool {
	v, _ := h.aliases.LoadOrStore(cl, &aliasSet{set: map[uint16]bool{}})
	a := v.(*aliasSet)
	a.mu.Lock()
	defer a.mu.Unlock()
	if set {
		a.set[n] = true
		return true
	}
	return a.set[n]
}

// protocolError closes the connection of a client that sent a bad packet; a v5 client
// is told why first.
func (h *fidelityHook) protocolError(cl *mqtt.Client, code packets.Code) error {
	if cl.Properties.ProtocolVersion == 5 {
		_ = h.server.DisconnectClient(cl, code)
	}
	return packets.ErrRejectPacket
}

func (h *fidelityHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	if _, ok := h.emptyWill.LoadAndDelete(cl); ok {
		cl.Properties.Will.Payload = nil
	}
	return nil
}

func (h *fidelityHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.emptyWill.Delete(cl)
	h.aliases.Delete(cl)
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

func (h *fidelityHook) OnPacketEncodeInPlace(cl *mqtt.Client, pk *packets.Packet) {
	v5 := cl.Properties.ProtocolVersion == 5
	switch pk.FixedHeader.Type {
	case packets.Connack:
		if !v5 {
			if pk.ReasonCode >= 0x80 {
				code, ok := v3ConnackCodes[pk.ReasonCode]
				switch {
				case pk.Properties.ReasonString == packets.ErrProtocolViolationProtocolVersion.Reason:
					code, ok = 1, true // unacceptable protocol version
				case pk.ReasonCode == packets.ErrUnspecifiedError.Code:
					// mochi's only one: a v3 persistent session without a
					// client id.
					code, ok = 2, true
				}
				if !ok {
					pk.FixedHeader.Type = dropPacket
				}
				pk.ReasonCode = code
			}
			return
		}
		if pk.ReasonCode >= 0x80 {
			// Mosquitto's refusals carry no properties.
			pk.Properties = packets.Properties{ReasonString: pk.Properties.ReasonString}
			return
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
	case packets.Publish:
		// mochi drops every packet's user properties for a client that
		// sent Request Problem Information 0; [MQTT-3.1.2-29] forbids them
		// on packets other than PUBLISH, CONNACK and DISCONNECT only, and
		// a PUBLISH carries the publisher's (Mosquitto delivers them).
		pk.Mods.DisallowProblemInfo = false
	}
}

// OnPacketEncode is OnPacketEncodeInPlace on a copy, as mochi would call it.
func (h *fidelityHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.OnPacketEncodeInPlace(cl, &pk)
	return pk
}
