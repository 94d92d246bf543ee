package broker

import (
	"fmt"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/broker/store"
	"mqtls/internal/hookset"
	"mqtls/topic"
)

// wildcardHook makes a filter "P/#" match the parent level P as MQTT says
// (§4.7.1.2: "sport/#" also matches "sport"), where mochi's topic tree does
// not when P ends with '+' ("+/#" misses "foo", "foo/+/#" misses "foo/bar")
// and never sends the retained message of P itself to a new "P/#".
//
// The tree is mochi's, so the hook subscribes the client to P as well: a
// companion subscription added to the SUBSCRIBE (its SUBACK code is taken
// out again), removed with "P/#" unless the client subscribed to P itself.
// Deliveries that match both are merged by mochi into one. A companion of a
// filter without wildcards carries no subscription identifier, so that a
// message matching both does not list the identifier twice. When the
// client holds P itself, the companion is its own P as it is (only the
// retain handling follows P/#, for P's retained message): P keeps its own
// options, also after P/# goes. A message to P then follows P's options
// alone where mochi's tree does not match P/# (P ending with '+'); for any
// other P mochi merges both subscriptions as before.
//
// Which subscriptions only a companion holds is durable (package store,
// SetCompanions), written before the SUBACK or UNSUBACK: after a restart,
// unsubscribing "P/#" still keeps a P the client subscribed to itself.
type wildcardHook struct {
	mqtt.HookBase

	// st keeps the companions of persistent sessions; nil until the
	// store is open (no hook runs before).
	st *store.Hook

	mu sync.Mutex
	// comp holds, per client id, the subscriptions that only a companion
	// holds (the client never subscribed to them itself).
	comp map[string]map[string]bool
	// added holds, per SUBSCRIBE or UNSUBSCRIBE being answered, how many
	// filters the hook appended, to take their codes out of the ack.
	added map[ackKey]int
	// pending holds, per SUBSCRIBE being answered, what OnSubscribed
	// records once the codes are known.
	pending map[ackKey]compChange
}

type ackKey struct {
	cl  *mqtt.Client
	typ byte // Suback or Unsuback
	id  uint16
}

// compChange is what one SUBSCRIBE changes if its filters are granted: new
// companions, and companions the client now subscribes to itself.
type compChange struct {
	set, unset []string
}

var _ mqtt.Hook = (*wildcardHook)(nil)

func newWildcardHook() *wildcardHook {
	return &wildcardHook{comp: map[string]map[string]bool{}, added: map[ackKey]int{}, pending: map[ackKey]compChange{}}
}

func (h *wildcardHook) ID() string { return "mqtls-wildcards" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes.)
var wildcardSpec = hookSpec{
	events: hookset.Of(mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribe, mqtt.OnDisconnect, mqtt.OnClientExpired),
	enc:    typesOf(packets.Suback, packets.Unsuback),
}

func (h *wildcardHook) Provides(b byte) bool { return wildcardSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *wildcardHook) PacketTypes(event byte) uint16 { return wildcardSpec.packetTypes(event) }

func (h *wildcardHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// restore sets the store and the companions a restart found in it.
func (h *wildcardHook) restore(st *store.Hook) error {
	comp, err := st.StoredCompanions()
	if err != nil {
		return fmt.Errorf("read wildcard companions: %w", err)
	}
	h.mu.Lock()
	h.st, h.comp = st, comp
	h.mu.Unlock()
	return nil
}

// companion returns the parent level of a "P/#" filter.
func companion(filter string) (string, bool) {
	if _, shared := sharedFilter(filter); shared || !strings.HasSuffix(filter, "/#") {
		return "", false
	}
	p := strings.TrimSuffix(filter, "/#")
	if p == "" || topic.ValidFilter(p) != nil {
		return "", false
	}
	return p, true
}

func (h *wildcardHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	cm := h.comp[cl.ID]
	var ch compChange
	in := map[string]bool{}
	for _, f := range pk.Filters {
		in[f.Filter] = true
		if cm[f.Filter] {
			ch.unset = append(ch.unset, f.Filter)
		}
	}
	filters := append(packets.Subscriptions(nil), pk.Filters...)
	n := 0
	for _, f := range pk.Filters {
		p, ok := companion(f.Filter)
		if !ok || in[p] {
			continue
		}
		in[p] = true
		own, subscribed := cl.State.Subscriptions.Get(p)
		c := f
		c.Filter = p
		if !topic.HasWildcard(p) {
			c.Identifier = 0
		}
		if subscribed && !cm[p] {
			// The client's own P keeps its options: subscribed again as
			// it is, for the retained message of P that P/# gets.
			_, exists := cl.State.Subscriptions.Get(f.Filter)
			c = ownAgain(own, f, !exists)
		}
		filters = append(filters, c)
		n++
		if !subscribed && !cm[p] {
			ch.set = append(ch.set, p)
		}
	}
	k := ackKey{cl, packets.Suback, pk.PacketID}
	if n > 0 {
		pk.Filters = filters
		h.added[k] = n
	}
	if len(ch.set)+len(ch.unset) > 0 {
		h.pending[k] = ch
	}
	return pk
}

// ownAgain is a client's own subscription own to P, to subscribe again
// beside P/# (f), so that mochi sends P's retained message when P/#'s
// retain handling asks for it (1: only when P/# is new, isNew) and
// changes nothing else. The retain handling kept with P is used by no one:
// mochi reads it from the SUBSCRIBE being answered.
func ownAgain(own, f packets.Subscription, isNew bool) packets.Subscription {
	c := own
	c.RetainHandling = 2
	if f.RetainHandling == 0 || (f.RetainHandling == 1 && isNew) {
		c.RetainHandling = 0
	}
	return c
}

// OnSubscribed records the companions of the granted filters. It runs
// before the store hook's, which waits until the SUBSCRIBE is durable.
func (h *wildcardHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	k := ackKey{cl, packets.Suback, pk.PacketID}
	h.mu.Lock()
	ch, ok := h.pending[k]
	delete(h.pending, k)
	if !ok {
		h.mu.Unlock()
		return
	}
	granted := map[string]bool{}
	for i, f := range pk.Filters {
		if i < len(codes) && codes[i] < 0x80 {
			granted[f.Filter] = true
		}
	}
	var set, unset []string
	cm := h.comp[cl.ID]
	for _, f := range ch.unset {
		if granted[f] && cm[f] {
			delete(cm, f)
			unset = append(unset, f)
		}
	}
	for _, p := range ch.set {
		if !granted[p] {
			continue
		}
		if cm == nil {
			cm = map[string]bool{}
			h.comp[cl.ID] = cm
		}
		cm[p] = true
		set = append(set, p)
	}
	st := h.st
	h.mu.Unlock()
	if st != nil && !cl.IsTakenOver() {
		st.SetCompanions(cl.ID, set, unset)
	}
}

func (h *wildcardHook) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	h.mu.Lock()
	cm := h.comp[cl.ID]
	var unset []string
	going := map[string]bool{}
	for _, f := range pk.Filters {
		going[f.Filter] = true
		if cm[f.Filter] {
			delete(cm, f.Filter)
			unset = append(unset, f.Filter)
		}
	}
	// companions still needed by a subscription that stays
	needed := map[string]bool{}
	for f := range cl.State.Subscriptions.GetAll() {
		if going[f] {
			continue
		}
		if p, ok := companion(f); ok {
			needed[p] = true
		}
	}
	filters := append(packets.Subscriptions(nil), pk.Filters...)
	n := 0
	for _, f := range pk.Filters {
		p, ok := companion(f.Filter)
		if !ok || going[p] || needed[p] || !cm[p] {
			continue
		}
		delete(cm, p)
		unset = append(unset, p)
		if _, subscribed := cl.State.Subscriptions.Get(p); !subscribed {
			continue
		}
		going[p] = true
		filters = append(filters, packets.Subscription{Filter: p})
		n++
	}
	if n > 0 {
		pk.Filters = filters
		h.added[ackKey{cl, packets.Unsuback, pk.PacketID}] = n
	}
	st := h.st
	h.mu.Unlock()
	// Before the store hook's OnUnsubscribed, which waits until the
	// UNSUBSCRIBE is durable.
	if st != nil && !cl.IsTakenOver() {
		st.SetCompanions(cl.ID, nil, unset)
	}
	return pk
}

// OnPacketEncode takes the companions' codes out of a SUBACK or UNSUBACK.
func (h *wildcardHook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	t := pk.FixedHeader.Type
	if t != packets.Suback && t != packets.Unsuback {
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	k := ackKey{cl, t, pk.PacketID}
	n, ok := h.added[k]
	if !ok {
		return pk
	}
	delete(h.added, k)
	if n <= len(pk.ReasonCodes) {
		pk.ReasonCodes = pk.ReasonCodes[:len(pk.ReasonCodes)-n]
	}
	return pk
}

func (h *wildcardHook) OnDisconnect(cl *mqtt.Client, _ error, expire bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k := range h.added {
		if k.cl == cl {
			delete(h.added, k)
		}
	}
	for k := range h.pending {
		if k.cl == cl {
			delete(h.pending, k)
		}
	}
	if expire && !cl.IsTakenOver() {
		delete(h.comp, cl.ID)
	}
}

func (h *wildcardHook) OnClientExpired(cl *mqtt.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.comp, cl.ID)
}
