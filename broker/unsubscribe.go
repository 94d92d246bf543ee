package broker

import (
	"fmt"
	"slices"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
)

// UNSUBSCRIBE is checked against the unsubscribe ACLs, as Mosquitto 2.0's
// dynamic security does (unsubscribeLiteral, unsubscribePattern and the
// "unsubscribe" default access). A refused filter keeps its subscription;
// a v5 client gets UNSUBACK reason 0x87 (not authorized) for it, a v3 client
// the plain UNSUBACK that v3 has. mochi has no way to refuse one filter of
// an UNSUBSCRIBE, so OnUnsubscribe renames a refused filter as OnSubscribe
// does (refuseFilter: no subscription can have that name), and
// OnPacketEncode puts 0x87 in its place in the UNSUBACK (mochi answers
// 0x11, no subscription existed).

// unsubKey names one UNSUBSCRIBE of a client by its packet id.
type unsubKey struct {
	cl *mqtt.Client
	id uint16
}

// OnUnsubscribe checks each filter and renames the refused ones.
func (h *authHook) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	ls := h.b.lis[cl.Net.Listener]
	user := string(cl.Properties.Username)
	var denied []int
	for i, f := range pk.Filters {
		if ls != nil && allowUnsubscribe(ls, user, cl.ID, f.Filter) {
			continue
		}
		denied = append(denied, i)
		h.b.noteDenial(dynsec.Unsubscribe)
		h.b.log.Debug(fmt.Sprintf("Denied UNSUBSCRIBE from %s ('%s').", cl.ID, f.Filter))
	}
	if len(denied) == 0 {
		return pk
	}
	pk.Filters = slices.Clone(pk.Filters)
	for _, i := range denied {
		pk.Filters[i].Filter = refuseFilter(pk.Filters[i].Filter)
	}
	if cl.Properties.ProtocolVersion >= 5 {
		h.unsubDenied.Store(unsubKey{cl, pk.PacketID}, denied)
		h.unsubPending.Add(1)
	}
	return pk
}

// OnPacketEncode sets reason 0x87 for the refused filters of an UNSUBACK.
// It runs for every packet sent: the common case is one comparison.
func (h *authHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if pk.FixedHeader.Type != packets.Unsuback || h.unsubPending.Load() == 0 {
		return pk
	}
	v, ok := h.unsubDenied.LoadAndDelete(unsubKey{cl, pk.PacketID})
	if !ok {
		return pk
	}
	h.unsubPending.Add(-1)
	pk.ReasonCodes = slices.Clone(pk.ReasonCodes)
	for _, i := range v.([]int) {
		if i < len(pk.ReasonCodes) {
			pk.ReasonCodes[i] = packets.ErrNotAuthorized.Code
		}
	}
	return pk
}

// forgetUnsubscribes drops what a client left when it went away between
// its UNSUBSCRIBE and the UNSUBACK.
func (h *authHook) forgetUnsubscribes(cl *mqtt.Client) {
	if h.unsubPending.Load() == 0 {
		return
	}
	h.unsubDenied.Range(func(k, _ any) bool {
		if k.(unsubKey).cl == cl {
			if _, ok := h.unsubDenied.LoadAndDelete(k); ok {
				h.unsubPending.Add(-1)
			}
		}
		return true
	})
}

// allowUnsubscribe checks an UNSUBSCRIBE filter the way allowSubscribe
// checks a SUBSCRIBE filter.
func allowUnsubscribe(ls *listenerState, user, id, f string) bool {
	if inner, ok := sharedFilter(f); ok {
		if inner == "" {
			return false
		}
		f = inner
	}
	return allow(ls, user, id, f, dynsec.Unsubscribe)
}
