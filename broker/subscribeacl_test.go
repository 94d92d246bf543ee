package broker_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

// startSubACLBrokers starts the real Mosquitto and our broker, each with its
// own dynsec file, and gives user dev1 (password pw) on both a role that may
// publish anything, subscribe to anything but secret/# and the literal
// filter pub/x, and receive anything but hidden/#.
func startSubACLBrokers(t *testing.T) []unsubBroker {
	testutil.Need(t, "mosquitto", "mosquitto_ctrl")
	var out []unsubBroker
	for _, name := range []string{"mosquitto", "mqtls"} {
		dir := t.TempDir()
		if o, code := mosq(t, dir, "mosquitto_ctrl", "dynsec", "init", "dynsec.json", "admin", "adminpw"); code != 0 {
			t.Fatalf("mosquitto_ctrl dynsec init: %s", o)
		}
		p := testutil.FreePort(t)
		conf := fmt.Sprintf("per_listener_settings false\nlistener %d 127.0.0.1\nallow_anonymous false\nplugin %s\nplugin_opt_config_file %s\n",
			p, dynsecPlugin, filepath.Join(dir, "dynsec.json"))
		if name == "mosquitto" {
			testutil.Mosquitto(t, p, conf)
		} else {
			startBroker(t, dir, conf, p)
		}
		ctrl(t, dir, p,
			[]string{"createRole", "dev"},
			[]string{"addRoleACL", "dev", "subscribePattern", "#", "allow"},
			[]string{"addRoleACL", "dev", "subscribePattern", "secret/#", "deny", "10"},
			[]string{"addRoleACL", "dev", "subscribeLiteral", "pub/x", "deny", "10"},
			[]string{"addRoleACL", "dev", "publishClientSend", "#", "allow"},
			[]string{"addRoleACL", "dev", "publishClientReceive", "#", "allow"},
			[]string{"addRoleACL", "dev", "publishClientReceive", "hidden/#", "deny", "10"},
			[]string{"createClient", "dev1", "-p", "pw"},
			[]string{"addClientRole", "dev1", "dev"})
		out = append(out, unsubBroker{name, p})
	}
	return out
}

func dev1Connect(ver byte, id string) packets.Packet {
	pk := connectPacket(ver, id, true, 0)
	pk.Connect.Username, pk.Connect.UsernameFlag = []byte("dev1"), true
	pk.Connect.Password, pk.Connect.PasswordFlag = []byte("pw"), true
	return pk
}

func subscribeQoS(id uint16, qos byte, filters ...string) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: id}
	for _, f := range filters {
		pk.Filters = append(pk.Filters, packets.Subscription{Filter: f, Qos: qos})
	}
	return pk
}

// TestSubscribeACLAmongAllowed: one SUBSCRIBE holds refused filters among
// allowed ones; each gets its own code (v5 0x87, v3 0x80), the refused ones
// subscribe nothing, and an allowed hidden/# neither sends the retained
// hidden/ message nor delivers a live one: the receive ACL refuses those.
// The real Mosquitto answers first, with the same setup.
func TestSubscribeACLAmongAllowed(t *testing.T) {
	filters := []string{"pub/#", "secret/x", "hidden/#", "secret/#", "lit/x"}
	for _, b := range startSubACLBrokers(t) {
		pub := mustDial(t, testutil.Addr(b.port), dev1Connect(5, "amongst-pub"))
		for _, topic := range []string{"hidden/r", "pub/r"} {
			p := publishPacket(topic, []byte("retained"), 1, 1)
			p.FixedHeader.Retain = true
			mustSend(t, pub, p)
			mustRead(t, pub, packets.Puback)
		}
		for _, c := range []struct {
			ver  byte
			deny byte
		}{{5, 0x87}, {4, 0x80}} {
			t.Run(fmt.Sprintf("%s/v%d", b.name, c.ver), func(t *testing.T) {
				sub := mustDial(t, testutil.Addr(b.port), dev1Connect(c.ver, fmt.Sprintf("amongst-sub-%d", c.ver)))
				mustSend(t, sub, subscribeQoS(1, 0, filters...))
				sa := mustRead(t, sub, packets.Suback)
				if want := []byte{0, c.deny, 0, c.deny, 0}; !slices.Equal(sa.ReasonCodes, want) {
					t.Errorf("SUBACK %x for %q, want %x", sa.ReasonCodes, filters, want)
				}
				// mochi queues the retained messages after the SUBACK: once a
				// second SUBACK came, they are all queued, before any live
				// message published afterwards.
				mustSend(t, sub, subscribeQoS(2, 0, "sync/x"))
				var got []string
				for {
					pk, err := sub.readTimeout(10 * time.Second)
					if err != nil {
						t.Fatalf("waiting for the second SUBACK: %v", err)
					}
					if pk.FixedHeader.Type == packets.Suback {
						break
					}
					got = append(got, pk.TopicName)
				}
				for _, topic := range []string{"secret/x", "hidden/x", "lit/x", "pub/end"} {
					mustSend(t, pub, publishPacket(topic, []byte("live"), 0, 0))
				}
				for len(got) == 0 || got[len(got)-1] != "pub/end" {
					got = append(got, mustRead(t, sub, packets.Publish).TopicName)
				}
				slices.Sort(got)
				if !slices.Equal(got, []string{"lit/x", "pub/end", "pub/r"}) {
					t.Errorf("received %q, want the retained pub/r, lit/x and pub/end", got)
				}
			})
		}
	}
}

// TestSubscribeACLConcurrent: clients of both protocol versions subscribe
// over and over to refused filters (among them pub/x, refused as a literal
// filter) while QoS 1 messages on pub/x reach them through their pub/#: each
// SUBACK has the right codes, every pub/x message arrives, and no hidden/
// message does, whatever SUBSCRIBE is being checked when a delivery is
// decided.
func TestSubscribeACLConcurrent(t *testing.T) {
	const clients, messages = 8, 300
	for _, b := range startSubACLBrokers(t) {
		t.Run(b.name, func(t *testing.T) {
			addr := testutil.Addr(b.port)
			subs := make([]*rawClient, clients)
			for i := range subs {
				ver := byte(4 + i%2)
				subs[i] = mustDial(t, addr, dev1Connect(ver, fmt.Sprintf("conc-%s-%d", b.name, i)))
				mustSend(t, subs[i], subscribeQoS(1, 1, "pub/#", "hidden/#"))
				if sa := mustRead(t, subs[i], packets.Suback); !slices.Equal(sa.ReasonCodes, []byte{1, 1}) {
					t.Fatalf("SUBACK %x for pub/# and hidden/#, want 0101", sa.ReasonCodes)
				}
			}
			pub := mustDial(t, addr, dev1Connect(5, "conc-pub-"+b.name))
			errs := make([]error, clients)
			var wg sync.WaitGroup
			for i, sub := range subs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = subscribeWhileReceiving(sub, messages)
				}()
			}
			for n := range messages {
				for _, topic := range []string{"hidden/x", "pub/x"} {
					if err := pub.send(publishPacket(topic, fmt.Appendf(nil, "%d", n), 1, 1)); err != nil {
						t.Fatal(err)
					}
					if pk, err := pub.readTimeout(10 * time.Second); err != nil || pk.FixedHeader.Type != packets.Puback || pk.ReasonCode >= 0x80 {
						t.Fatalf("PUBACK for %s %d: %+v %v", topic, n, pk, err)
					}
				}
			}
			wg.Wait()
			for i, err := range errs {
				if err != nil {
					t.Errorf("client %d (v%d): %v", i, 4+i%2, err)
				}
			}
		})
	}
}

// subscribeWhileReceiving sends SUBSCRIBEs of refused and allowed filters,
// each once the previous SUBACK came, until want pub/x messages arrived;
// it acknowledges every message and checks every SUBACK.
func subscribeWhileReceiving(rc *rawClient, want int) error {
	deny := byte(0x87)
	if rc.ver < 5 {
		deny = 0x80
	}
	filters := []string{"pub/x", "secret/x", "hidden/#", "secret/#"}
	wantCodes := []byte{deny, deny, 1, deny}
	var seen []string
	next := uint16(100)
	subscribing := false
	deadline := time.Now().Add(20 * time.Second)
	for len(seen) < want {
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d pub/x messages arrived in 20s (%d SUBSCRIBEs)", len(seen), want, next-100)
		}
		if !subscribing {
			if err := rc.send(subscribeQoS(next, 1, filters...)); err != nil {
				return err
			}
			subscribing = true
		}
		pk, err := rc.readTimeout(time.Until(deadline))
		if err != nil {
			return fmt.Errorf("after %d of %d pub/x messages: %w", len(seen), want, err)
		}
		switch pk.FixedHeader.Type {
		case packets.Suback:
			if pk.PacketID != next || !slices.Equal(pk.ReasonCodes, wantCodes) {
				return fmt.Errorf("SUBACK %d %x for %q, want %d %x", pk.PacketID, pk.ReasonCodes, filters, next, wantCodes)
			}
			next = next%65535 + 1
			subscribing = false
		case packets.Publish:
			if pk.TopicName != "pub/x" {
				return fmt.Errorf("received %s %q", pk.TopicName, pk.Payload)
			}
			if pk.FixedHeader.Qos > 0 {
				if err := rc.send(ack(packets.Puback, pk.PacketID, 0)); err != nil {
					return err
				}
			}
			if !pk.FixedHeader.Dup {
				seen = append(seen, string(pk.Payload))
			}
		default:
			return fmt.Errorf("unexpected packet type %d", pk.FixedHeader.Type)
		}
	}
	for i, m := range seen {
		if m != fmt.Sprint(i) {
			return fmt.Errorf("pub/x message %d is %q: messages lost or out of order", i, m)
		}
	}
	return nil
}
