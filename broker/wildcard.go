package broker

import (
	"bytes"
	"strings"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

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
// message matching both does not list the identifier twice.
type wildcardHook struct {
	mqtt.HookBase

	mu sync.Mutex
	// explicit holds, per client id, the filters the client subscribed to
	// itself (a companion may also be one of them).
	explicit map[string]map[string]bool
	// added holds, per SUBSCRIBE or UNSUBSCRIBE being answered, how many
	// filters the hook appended, to take their codes out of the ack.
	added map[ackKey]int
}

type ackKey struct {
	cl  *mqtt.Client
	typ byte // Suback or Unsuback
	id  uint16
}

var _ mqtt.Hook = (*wildcardHook)(nil)

func newWildcardHook() *wildcardHook {
	return &wildcardHook{explicit: map[string]map[string]bool{}, added: map[ackKey]int{}}
}

func (h *wildcardHook) ID() string { return "mqtls-wildcards" }

func (h *wildcardHook) Provides(b byte) bool {
	return bytes.Contains([]byte{mqtt.OnSubscribe, mqtt.OnUnsubscribe, mqtt.OnPacketEncode, mqtt.OnDisconnect, mqtt.OnClientExpired}, []byte{b})
}

func (h *wildcardHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
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
	ex := h.explicit[cl.ID]
	if ex == nil {
		ex = map[string]bool{}
		h.explicit[cl.ID] = ex
	}
	in := map[string]bool{}
	for _, f := range pk.Filters {
		ex[f.Filter] = true
		in[f.Filter] = true
	}
	filters := append(packets.Subscriptions(nil), pk.Filters...)
	n := 0
	for _, f := range pk.Filters {
		p, ok := companion(f.Filter)
		if !ok || in[p] {
			continue
		}
		in[p] = true
		c := f
		c.Filter = p
		if !topic.HasWildcard(p) {
			c.Identifier = 0
		}
		filters = append(filters, c)
		n++
	}
	if n > 0 {
		pk.Filters = filters
		h.added[ackKey{cl, packets.Suback, pk.PacketID}] = n
	}
	return pk
}

func (h *wildcardHook) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ex := h.explicit[cl.ID]
	going := map[string]bool{}
	for _, f := range pk.Filters {
		going[f.Filter] = true
		delete(ex, f.Filter)
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
		if !ok || going[p] || needed[p] || ex[p] {
			continue
		}
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
	if expire && !cl.IsTakenOver() {
		delete(h.explicit, cl.ID)
	}
}

func (h *wildcardHook) OnClientExpired(cl *mqtt.Client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	delete(h.explicit, cl.ID)
}
