package broker

import (
	"slices"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
	"mqtls/topic"
)

// SUBSCRIBE is checked in OnSubscribe, where the packet says that the
// question is a subscription: mochi asks OnACLCheck(write=false) for each
// filter too, but with the same words as for a delivery. A refused filter is
// renamed (refuseFilter) to one that no topic can match and that OnACLCheck
// refuses, so mochi answers it 0x87 in v5 and 0x80 in v3, subscribes
// nothing and sends no retained message. UNSUBSCRIBE uses the same renaming
// (unsubscribe.go). The filters left as they were are allowed.

// refusedPrefix starts the name of a refused filter. NUL is not allowed in
// MQTT strings, so no client's filter or topic has it; the level separator
// after it keeps the renamed filter valid for mochi, which checks validity
// before the ACL. The original name follows, for the log.
const refusedPrefix = "\x00/"

// refuseFilter is the name of refused filter f.
func refuseFilter(f string) string { return refusedPrefix + f }

// refusedFilter reports whether f is a refused filter, and its original name.
func refusedFilter(f string) (string, bool) { return strings.CutPrefix(f, refusedPrefix) }

// OnSubscribe judges each filter that mochi would ask the ACL about (a
// valid filter, not a shared one with No Local: mochi refuses those first
// with their own codes) and renames the refused ones. It runs after the
// wildcard hook, so that the companion filters are judged as well.
func (h *authHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	ls := h.b.lis[cl.Net.Listener]
	user := string(cl.Properties.Username)
	cloned := false
	for i, f := range pk.Filters {
		if !mqtt.IsValidFilter(f.Filter, false) || (f.NoLocal && mqtt.IsSharedFilter(f.Filter)) {
			continue
		}
		if ls != nil && allowFilter(ls, user, cl.ID, f.Filter) {
			continue
		}
		if !cloned {
			pk.Filters, cloned = slices.Clone(pk.Filters), true
		}
		pk.Filters[i].Filter = refuseFilter(f.Filter)
	}
	return pk
}

// OnSubscribed logs the subscriptions (log_type subscribe) by the names the
// client sent.
func (h *authHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	h.b.logSubscribe(cl, pk)
}

// allowFilter is the subscribe rule: the subscribe ACL of the filter (of
// its inner filter when shared), and for a literal filter the receive ACL
// of the one topic it names, which OnACLCheck cannot tell from a delivery
// of that topic (fails closed, as the broker always has).
func allowFilter(ls *listenerState, user, id, f string) bool {
	if !allowSubscribe(ls, user, id, f) {
		return false
	}
	if _, shared := sharedFilter(f); shared || topic.HasWildcard(f) {
		return true
	}
	return allow(ls, user, id, f, dynsec.PublishReceive)
}

// allowSubscribe checks a filter; a shared subscription (in any case of
// its prefix, as mochi routes it) is checked by its inner filter, as in
// Mosquitto.
func allowSubscribe(ls *listenerState, user, id, f string) bool {
	if inner, ok := sharedFilter(f); ok {
		if inner == "" {
			return false
		}
		f = inner
	}
	return allow(ls, user, id, f, dynsec.Subscribe)
}
