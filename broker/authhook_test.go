package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// hookWithRole is a dynsec broker's hook and client dev1, whose role may
// receive lit/x but not subscribe to it, and may not unsubscribe from keep/#.
func hookWithRole(t *testing.T) *authHook {
	t.Helper()
	h, _ := benchHook(t, benchSecurity(t)[1].sec)
	resp := string(h.b.dynsec.store.Control([]byte(`{"commands":[
	{"command":"createRole","rolename":"r","acls":[
		{"acltype":"publishClientReceive","topic":"lit/x","allow":true},
		{"acltype":"subscribeLiteral","topic":"lit/x","allow":false},
		{"acltype":"unsubscribePattern","topic":"keep/#","allow":false}]},
	{"command":"createClient","username":"dev1","password":"pw","roles":[{"rolename":"r"}]},
	{"command":"createClient","username":"dev2","password":"pw","roles":[{"rolename":"r"}]}]}`)))
	if resp == "" || strings.Contains(resp, `"error"`) {
		t.Fatalf("setup: %s", resp)
	}
	return h
}

// TestSubscribeCheckAndDelivery: while a client's SUBSCRIBE of a literal
// filter is checked, mochi's question about that filter is answered with the
// subscribe ACL (fails closed); deliveries of other clients, and of the same
// client once the SUBSCRIBE is done, with the receive ACL. A client that
// goes away mid-SUBSCRIBE leaves nothing pending.
func TestSubscribeCheckAndDelivery(t *testing.T) {
	h := hookWithRole(t)
	dev1, dev2 := benchClient("dev1"), benchClient("dev2")
	sub := packets.Packet{Filters: packets.Subscriptions{{Filter: "lit/x"}, {Filter: "lit/x"}}}
	if !h.OnACLCheck(dev1, "lit/x", false) {
		t.Fatal("delivery of lit/x refused with no SUBSCRIBE pending")
	}
	h.OnSubscribe(dev1, sub)
	if h.OnACLCheck(dev1, "lit/x", false) {
		t.Error("SUBSCRIBE lit/x allowed: the subscribe ACL refuses it")
	}
	if !h.OnACLCheck(dev2, "lit/x", false) {
		t.Error("another client's delivery of lit/x refused during dev1's SUBSCRIBE")
	}
	h.OnSubscribed(dev1, sub, nil)
	if n := h.pending.Load(); n != 0 {
		t.Errorf("pending %d after OnSubscribed, want 0", n)
	}
	if !h.OnACLCheck(dev1, "lit/x", false) {
		t.Error("delivery of lit/x refused after the SUBSCRIBE")
	}
	h.OnSubscribe(dev1, sub)
	h.OnDisconnect(dev1, nil, false)
	if n := h.pending.Load(); n != 0 {
		t.Errorf("pending %d after a disconnect mid-SUBSCRIBE, want 0", n)
	}
}

// TestUnsubackCodes: a refused filter is renamed so that mochi keeps the
// subscription, and its UNSUBACK code becomes 0x87 (v5 only).
func TestUnsubackCodes(t *testing.T) {
	h := hookWithRole(t)
	cl := benchClient("dev1")
	pk := packets.Packet{PacketID: 7, Filters: packets.Subscriptions{{Filter: "keep/a"}, {Filter: "free/b"}}}
	got := h.OnUnsubscribe(cl, pk)
	if got.Filters[0].Filter != deniedFilter || got.Filters[1].Filter != "free/b" || pk.Filters[0].Filter != "keep/a" {
		t.Fatalf("filters %+v (original %+v)", got.Filters, pk.Filters)
	}
	other := h.OnPacketEncode(cl, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsuback}, PacketID: 8, ReasonCodes: []byte{0x11, 0}})
	if !slices.Equal(other.ReasonCodes, []byte{0x11, 0}) {
		t.Errorf("another UNSUBACK changed: %x", other.ReasonCodes)
	}
	ack := h.OnPacketEncode(cl, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsuback}, PacketID: 7, ReasonCodes: []byte{0x11, 0}})
	if !slices.Equal(ack.ReasonCodes, []byte{0x87, 0}) || h.unsubPending.Load() != 0 {
		t.Errorf("UNSUBACK codes %x (pending %d), want 8700 (0)", ack.ReasonCodes, h.unsubPending.Load())
	}
	v3 := benchClient("dev2")
	v3.Properties.ProtocolVersion = 4
	if got := h.OnUnsubscribe(v3, pk); got.Filters[0].Filter != deniedFilter || h.unsubPending.Load() != 0 {
		t.Errorf("v3: filters %+v, pending %d", got.Filters, h.unsubPending.Load())
	}
	h.OnUnsubscribe(cl, pk)
	h.OnDisconnect(cl, nil, false)
	if n := h.unsubPending.Load(); n != 0 {
		t.Errorf("pending %d after a disconnect before the UNSUBACK, want 0", n)
	}
}
