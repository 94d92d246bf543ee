package broker

import (
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// mountHook gives each listener with a mount_point its own topic tree, as
// Mosquitto does: the prefix is put before the topic of every PUBLISH, the
// will topic and every SUBSCRIBE and UNSUBSCRIBE filter a client of that
// listener sends, and taken off the topic of every PUBLISH sent to it. The
// prefix is plain text: "tenant/" makes "a/b" into "tenant/a/b".
//
// Everything after this hook (ACLs, the topic scheme, $SYS and $CONTROL
// checks, retained messages, the store, logs) sees the mounted topic, as in
// Mosquitto: an ACL for a client of a mounted listener names the topics
// with the prefix, and "$SYS/x" from such a client is the ordinary topic
// "tenant/$SYS/x". A delivery whose topic is not longer than the prefix
// (a subscription "#" also matches "tenant" itself) is not sent, as in
// Mosquitto (see [Broker.mountedDelivery]).
//
// Where Mosquitto 2.0.11 differs, this hook follows the man page: the
// prefix comes off outgoing topics (2.0.11 left it on, fixed in 2.0.12),
// UNSUBSCRIBE filters are mounted as the SUBSCRIBE ones were (Mosquitto
// leaves them as sent, so an unsubscribe on a mounted listener never
// matches), and a shared subscription "$share/g/f" becomes
// "$share/g/tenant/f" (Mosquitto mounts the whole string, which is no
// longer a shared subscription).
//
// The hook comes right after the limits hook, so that every other hook
// sees mounted topics; the broker adds it only when a listener has a
// mount point.
type mountHook struct {
	mqtt.HookBase
	b *Broker
}

var _ mqtt.Hook = (*mountHook)(nil)

func (h *mountHook) ID() string { return "mqtls-mount-point" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var mountSpec = hookSpec{
	events: hookset.Of(),
	read:   typesOf(packets.Connect, packets.Publish, packets.Subscribe, packets.Unsubscribe),
	enc:    typesOf(packets.Publish),
}

func (h *mountHook) Provides(b byte) bool { return mountSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *mountHook) PacketTypes(event byte) uint16 { return mountSpec.packetTypes(event) }

func (h *mountHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// mountPoint returns the mount point of cl's listener ("" for none).
func (b *Broker) mountPoint(cl *mqtt.Client) string {
	if cl.Net.Inline {
		return ""
	}
	if ls := b.lis[cl.Net.Listener]; ls != nil {
		return ls.conf.MountPoint
	}
	return ""
}

// mountedDelivery reports whether topic t may go to cl: on a listener with
// a mount point, only a topic under it that is longer than it. The ACL
// check of a delivery asks it; the filters it also sees are mounted.
func (b *Broker) mountedDelivery(cl *mqtt.Client, t string) bool {
	m := b.mountPoint(cl)
	if _, shared := sharedFilter(t); m == "" || shared {
		return true // a shared filter: mounted inside (mountFilter)
	}
	return len(t) > len(m) && strings.HasPrefix(t, m)
}

// mountFilter puts the mount point before a filter; a shared
// subscription keeps its $share/GROUP/ in front.
func mountFilter(m, f string) string {
	if inner, ok := sharedFilter(f); ok {
		if inner == "" {
			return f // no filter to mount: refused as it is
		}
		return f[:len(f)-len(inner)] + m + inner
	}
	return m + f
}

func (h *mountHook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	m := h.b.mountPoint(cl)
	if m == "" {
		return nil
	}
	switch pk.FixedHeader.Type {
	case packets.Connect:
		if pk.Connect.WillFlag && pk.Connect.WillTopic != "" {
			pk.Connect.WillTopic = m + pk.Connect.WillTopic
		}
	case packets.Publish:
		// An empty topic is either an error or a topic alias, whose
		// topic was mounted when the alias was set.
		if pk.TopicName != "" {
			pk.TopicName = m + pk.TopicName
		}
	case packets.Subscribe, packets.Unsubscribe:
		fs := make(packets.Subscriptions, len(pk.Filters))
		for i, f := range pk.Filters {
			if f.Filter != "" {
				f.Filter = mountFilter(m, f.Filter)
			}
			fs[i] = f
		}
		pk.Filters = fs
	}
	return nil
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *mountHook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// OnPacketEncodeInPlace takes the mount point off a delivery's topic. mochi keeps
// the mounted topic in its queues and in-flight messages, so a resent
// message is shortened again.
func (h *mountHook) OnPacketEncodeInPlace(cl *mqtt.Client, pk *packets.Packet) {
	if pk.FixedHeader.Type != packets.Publish {
		return
	}
	if m := h.b.mountPoint(cl); m != "" && len(pk.TopicName) > len(m) && strings.HasPrefix(pk.TopicName, m) {
		pk.TopicName = pk.TopicName[len(m):]
	}
}

// OnPacketEncode is OnPacketEncodeInPlace on a copy, as mochi would call it.
func (h *mountHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.OnPacketEncodeInPlace(cl, &pk)
	return pk
}

// mounted reports whether a listener has a mount point.
func (b *Broker) mounted() bool {
	for _, ls := range b.order {
		if ls.conf.MountPoint != "" {
			return true
		}
	}
	return false
}
