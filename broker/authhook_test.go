package broker

import (
	"slices"
	"strings"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"
)

// hookWithRole is a dynsec broker's hook and client dev1, whose role may
// receive lit/x but not subscribe to it, may subscribe to devices/dev1/#,
// may not receive other/#, and may not unsubscribe from keep/#.
func hookWithRole(t *testing.T) *authHook {
	t.Helper()
	h, _ := benchHook(t, benchSecurity(t)[1].sec)
	resp := string(h.b.dynsec.store.Control([]byte(`{"commands":[
	{"command":"createRole","rolename":"r","acls":[
		{"acltype":"publishClientReceive","topic":"lit/x","allow":true},
		{"acltype":"subscribeLiteral","topic":"lit/x","allow":false},
		{"acltype":"subscribePattern","topic":"devices/%u/#","allow":true},
		{"acltype":"publishClientReceive","topic":"other/#","allow":false},
		{"acltype":"unsubscribePattern","topic":"keep/#","allow":false}]},
	{"command":"createClient","username":"dev1","password":"pw","roles":[{"rolename":"r"}]},
	{"command":"createClient","username":"dev2","password":"pw","roles":[{"rolename":"r"}]}]}`)))
	if resp == "" || strings.Contains(resp, `"error"`) {
		t.Fatalf("setup: %s", resp)
	}
	return h
}

// TestSubscribeCheckAndDelivery: OnSubscribe renames the refused filters
// of a SUBSCRIBE (every copy of one, among allowed ones) and OnACLCheck
// refuses them; a delivery of the same topic to the same client, during the
// SUBSCRIBE or after, is answered by the receive ACL alone.
func TestSubscribeCheckAndDelivery(t *testing.T) {
	h := hookWithRole(t)
	dev1 := benchClient("dev1")
	sub := packets.Packet{Filters: packets.Subscriptions{{Filter: "lit/x"}, {Filter: "devices/dev1/#"}, {Filter: "lit/x"}}}
	got := h.OnSubscribe(dev1, sub)
	want := []string{refuseFilter("lit/x"), "devices/dev1/#", refuseFilter("lit/x")}
	for i, f := range got.Filters {
		if f.Filter != want[i] {
			t.Errorf("filter %d: %q, want %q", i, f.Filter, want[i])
		}
	}
	if sub.Filters[0].Filter != "lit/x" {
		t.Errorf("the client's packet changed: %+v", sub.Filters)
	}
	if h.OnACLCheck(dev1, got.Filters[0].Filter, false) {
		t.Error("a refused filter allowed")
	}
	if !h.OnACLCheck(dev1, "devices/dev1/#", false) {
		t.Error("an allowed filter refused")
	}
	if !h.OnACLCheck(dev1, "lit/x", false) {
		t.Error("delivery of lit/x refused: the receive ACL allows it")
	}
	if h.OnACLCheck(dev1, "other/x", false) {
		t.Error("delivery of other/x allowed: the receive ACL refuses it")
	}
}

// TestUnsubackCodes: a refused filter is renamed so that mochi keeps the
// subscription, and its UNSUBACK code becomes 0x87 (v5 only).
func TestUnsubackCodes(t *testing.T) {
	h := hookWithRole(t)
	cl := benchClient("dev1")
	pk := packets.Packet{PacketID: 7, Filters: packets.Subscriptions{{Filter: "keep/a"}, {Filter: "free/b"}}}
	got := h.OnUnsubscribe(cl, pk)
	if got.Filters[0].Filter != refuseFilter("keep/a") || got.Filters[1].Filter != "free/b" || pk.Filters[0].Filter != "keep/a" {
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
	if got := h.OnUnsubscribe(v3, pk); got.Filters[0].Filter != refuseFilter("keep/a") || h.unsubPending.Load() != 0 {
		t.Errorf("v3: filters %+v, pending %d", got.Filters, h.unsubPending.Load())
	}
	h.OnUnsubscribe(cl, pk)
	h.OnDisconnect(cl, nil, false)
	if n := h.unsubPending.Load(); n != 0 {
		t.Errorf("pending %d after a disconnect before the UNSUBACK, want 0", n)
	}
}
