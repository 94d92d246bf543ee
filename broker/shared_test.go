package broker_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// TestSharedPrefixAnyCase: mochi routes a filter whose first level is
// "$share" in any case ($SHARE, $Share ...) as a shared subscription, so the
// ACL must check its inner filter whatever the case. A deny-list role
// (subscribe "#" allowed, "secret/#" denied) cannot receive secret/
// messages through any case variant; a shared subscription outside
// secret/ still works.
func TestSharedPrefixAnyCase(t *testing.T) {
	testutil.Need(t, "mosquitto_ctrl")
	dir := t.TempDir()
	if o, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
		t.Fatalf("mosquitto_ctrl dynsec init: %s", o)
	}
	p := testutil.FreePort(t)
	startBroker(t, dir, fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n",
		p, dynsecPlugin, filepath.Join(dir, "dynsec.json")), p)
	ctrl(t, dir, p,
		[]string{"createRole", "deny-list"},
		[]string{"addRoleACL", "deny-list", "subscribePattern", "#", "allow"},
		[]string{"addRoleACL", "deny-list", "subscribePattern", "secret/#", "deny", "10"},
		[]string{"addRoleACL", "deny-list", "publishClientSend", "#", "allow"},
		[]string{"createClient", "dev1", "-p", "pw"},
		[]string{"addClientRole", "dev1", "deny-list"})
	login := func(ver byte, id string) packets.Packet {
		pk := connectPacket(ver, id, true, 0)
		pk.Connect.Username, pk.Connect.UsernameFlag = []byte("dev1"), true
		pk.Connect.Password, pk.Connect.PasswordFlag = []byte("pw"), true
		return pk
	}
	for _, c := range []struct {
		ver  byte
		deny byte
	}{{5, 0x87}, {4, 0x80}} {
		t.Run(fmt.Sprintf("v%d", c.ver), func(t *testing.T) {
			// A group of its own: the broker may not yet have seen the
			// previous subtest's subscriber go, and a group it is still in
			// would get public/x as often as not.
			g := fmt.Sprintf("g%d", c.ver)
			filters := []string{"$share/" + g + "/secret/#", "$SHARE/" + g + "/secret/#", "$Share/" + g + "/secret/#", "$sHaRe/" + g + "/secret/x", "$SHARE/" + g + "/public/#"}
			sub := mustDial(t, testutil.Addr(p), login(c.ver, fmt.Sprintf("share-sub-%d", c.ver)))
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: 1}
			for _, f := range filters {
				pk.Filters = append(pk.Filters, packets.Subscription{Filter: f})
			}
			mustSend(t, sub, pk)
			sa := mustRead(t, sub, packets.Suback)
			want := []byte{c.deny, c.deny, c.deny, c.deny, 0}
			if !slices.Equal(sa.ReasonCodes, want) {
				t.Errorf("SUBACK %x for %q, want %x", sa.ReasonCodes, filters, want)
			}
			pub := mustDial(t, testutil.Addr(p), login(5, fmt.Sprintf("share-pub-%d", c.ver)))
			mustSend(t, pub, publishPacket("secret/x", []byte("s"), 0, 0))
			mustSend(t, pub, publishPacket("public/x", []byte("p"), 0, 0))
			// Both are delivered in the order published: a secret/ message
			// that got through comes first.
			if got := mustRead(t, sub, packets.Publish); got.TopicName != "public/x" {
				t.Errorf("received %q (%q), want only public/x", got.TopicName, got.Payload)
			}
		})
	}
}
