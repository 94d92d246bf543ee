package broker

import (
	"errors"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/broker/store"
	"mqtls/internal/hookset"
)

// packetHooks runs our hooks' OnPacketRead and OnPacketEncode as one mochi
// hook. mochi calls every hook that provides one of these events with a
// copy of the 800-byte packet in and a copy out, for every packet, and most
// of ours work on one or two packet types: this hook calls each of them, in
// the order they were added, only for the types it says it works on
// (packetTyper), as mochi's own loops would, and those on the per-message
// path on the packet itself (inPlaceReader, inPlaceEncoder).
type packetHooks struct {
	mqtt.HookBase
	read []typedHook
	enc  []typedHook
}

// typedHook is one of ours and the packet types it works on for one event.
type typedHook struct {
	h     mqtt.Hook
	types uint16 // bit t: packet type t
	// h itself when it works on the packet in place, for that event
	reader  inPlaceReader
	encoder inPlaceEncoder
}

// inPlaceReader is a packetTyper whose OnPacketRead works on the packet
// itself, without a copy in and out: OnPacketReadInPlace returns nil or
// packets.ErrRejectPacket (then packetHooks gives mochi the packet as it
// was read, as mochi's loop does), and OnPacketRead is OnPacketReadInPlace
// on a copy.
type inPlaceReader interface {
	OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error
}

// inPlaceEncoder is a packetTyper whose OnPacketEncode works on the packet
// itself: OnPacketEncode is OnPacketEncodeInPlace on a copy.
type inPlaceEncoder interface {
	OnPacketEncodeInPlace(cl *mqtt.Client, pk *packets.Packet)
}

// packetTyper is a hook whose OnPacketRead and OnPacketEncode packetHooks
// calls, and which does not provide them to mochi: PacketTypes(event) has
// bit t set when that event's method may do anything with a packet of
// type t; for the others it must return the packet unchanged and nil.
type packetTyper interface {
	PacketTypes(event byte) uint16
}

// typesOf is the set of packet types given, as PacketTypes returns it.
func typesOf(ts ...byte) uint16 {
	var s uint16
	for _, t := range ts {
		s |= 1 << (t & 15)
	}
	return s
}

const allTypes = 0xffff

var packetEvents = hookset.Of(mqtt.OnPacketRead, mqtt.OnPacketEncode)

func (p *packetHooks) ID() string { return "mqtls-packets" }

func (p *packetHooks) Provides(b byte) bool { return packetEvents.Has(b) }

// add takes over h's OnPacketRead and OnPacketEncode and returns what to
// give mochi instead of h. A packetTyper (all of ours) does not provide
// the two events to mochi: it is called here for the types it gives, and
// mochi gets h itself (a wrapper would cost a packet copy in every other
// event). Any other hook is called here for every packet, and mochi gets
// it without the two events.
func (p *packetHooks) add(h mqtt.Hook) mqtt.Hook {
	if t, ok := h.(packetTyper); ok {
		if r := t.PacketTypes(mqtt.OnPacketRead); r != 0 {
			th := typedHook{h: h, types: r}
			th.reader, _ = h.(inPlaceReader)
			p.read = append(p.read, th)
		}
		if e := t.PacketTypes(mqtt.OnPacketEncode); e != 0 {
			th := typedHook{h: h, types: e}
			th.encoder, _ = h.(inPlaceEncoder)
			p.enc = append(p.enc, th)
		}
		return h
	}
	read, enc := h.Provides(mqtt.OnPacketRead), h.Provides(mqtt.OnPacketEncode)
	if !read && !enc {
		return h
	}
	if read {
		p.read = append(p.read, typedHook{h: h, types: allTypes})
	}
	if enc {
		p.enc = append(p.enc, typedHook{h: h, types: allTypes})
	}
	var events []byte
	for e := byte(0); e < 64; e++ {
		if e != mqtt.OnPacketRead && e != mqtt.OnPacketEncode && h.Provides(e) {
			events = append(events, e)
		}
	}
	return &withoutPacketEvents{Hook: h, events: hookset.Of(events...)}
}

// OnPacketRead is mochi's loop over the hooks that provide OnPacketRead:
// a refusal ends it with the packet as read; another error skips that
// hook's result.
func (p *packetHooks) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	pkx := pk
	if err := p.readPacket(cl, &pkx); err != nil {
		return pk, err
	}
	return pkx, nil
}

// readPacket is OnPacketRead on pk itself (hookLoop calls it): after a refusal,
// which it returns, pk is what the hooks before it made of it.
func (p *packetHooks) readPacket(cl *mqtt.Client, pk *packets.Packet) error {
	for i := range p.read {
		t := &p.read[i]
		if t.types&(1<<(pk.FixedHeader.Type&15)) == 0 {
			continue
		}
		if t.reader != nil {
			if err := readInPlace(t.reader, cl, pk); err != nil {
				return err
			}
			continue
		}
		npk, err := t.h.OnPacketRead(cl, *pk)
		if err != nil {
			if errors.Is(err, packets.ErrRejectPacket) {
				return err
			}
			continue
		}
		*pk = npk
	}
	return nil
}

// OnPacketEncode is mochi's loop over the hooks that provide
// OnPacketEncode.
func (p *packetHooks) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	p.encodePacket(cl, &pk)
	return pk
}

// encodePacket is OnPacketEncode on pk itself (hookLoop calls it).
func (p *packetHooks) encodePacket(cl *mqtt.Client, pk *packets.Packet) {
	for i := range p.enc {
		t := &p.enc[i]
		switch {
		case t.types&(1<<(pk.FixedHeader.Type&15)) == 0:
		case t.encoder != nil:
			encodeInPlace(t.encoder, cl, pk)
		default:
			*pk = t.h.OnPacketEncode(cl, *pk)
		}
	}
}

// readInPlace runs h's OnPacketReadInPlace on pk. Our hooks are called by
// their type: through the interface pk would escape, an 800-byte allocation
// for every call. Another hook (a test's) works on a copy.
func readInPlace(h inPlaceReader, cl *mqtt.Client, pk *packets.Packet) error {
	switch h := h.(type) {
	case *limitsHook:
		return h.OnPacketReadInPlace(cl, pk)
	case *mountHook:
		return h.OnPacketReadInPlace(cl, pk)
	case *fidelityHook:
		return h.OnPacketReadInPlace(cl, pk)
	case *queueHook:
		return h.OnPacketReadInPlace(cl, pk)
	case *inboundHook:
		return h.OnPacketReadInPlace(cl, pk)
	case *store.Hook:
		return h.OnPacketReadInPlace(cl, pk)
	}
	q := *pk
	err := h.OnPacketReadInPlace(cl, &q)
	*pk = q
	return err
}

// encodeInPlace is readInPlace for OnPacketEncodeInPlace.
func encodeInPlace(h inPlaceEncoder, cl *mqtt.Client, pk *packets.Packet) {
	switch h := h.(type) {
	case *mountHook:
		h.OnPacketEncodeInPlace(cl, pk)
		return
	case *fidelityHook:
		h.OnPacketEncodeInPlace(cl, pk)
		return
	case *queueHook:
		h.OnPacketEncodeInPlace(cl, pk)
		return
	case *store.Hook:
		h.OnPacketEncodeInPlace(cl, pk)
		return
	}
	q := *pk
	h.OnPacketEncodeInPlace(cl, &q)
	*pk = q
}

// withoutPacketEvents is a hook of ours as mochi sees it once packetHooks
// calls its OnPacketRead and OnPacketEncode.
type withoutPacketEvents struct {
	mqtt.Hook
	events hookset.Set
}

func (w *withoutPacketEvents) Provides(b byte) bool { return w.events.Has(b) }

// hookSpec is what one of our hooks tells mochi and packetHooks, written
// once beside the hook: the events mochi calls it for (its Provides), and
// the packet types its OnPacketRead and OnPacketEncode work on (its
// PacketTypes, for packetHooks; 0 for none).
type hookSpec struct {
	events    hookset.Set
	read, enc uint16
}

// packetTypes is PacketTypes for a hook with this spec.
func (s hookSpec) packetTypes(event byte) uint16 {
	switch event {
	case mqtt.OnPacketRead:
		return s.read
	case mqtt.OnPacketEncode:
		return s.enc
	}
	return 0
}
