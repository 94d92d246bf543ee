package broker

import (
	"errors"
	"fmt"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
)

// samplePackets are packets of type t in the shapes our hooks look at
// (QoS 0 and 1, packet id 0 and 1, a retain flag, a topic alias, filters,
// a will, a refusal code, a one-byte DISCONNECT).
func samplePackets(t byte) []packets.Packet {
	var out []packets.Packet
	for _, qos := range []byte{0, 1, 2} {
		for _, id := range []uint16{0, 1} {
			out = append(out, packets.Packet{
				FixedHeader:     packets.FixedHeader{Type: t, Qos: qos, Retain: qos == 1, Remaining: 1},
				PacketID:        id,
				ProtocolVersion: bridgeBit | 4,
				TopicName:       "a/b",
				ReasonCode:      0x80 * byte(id),
				ReasonCodes:     []byte{0, 0},
				Filters:         packets.Subscriptions{{Filter: "a/#"}, {Filter: "a/#/b"}},
				Connect:         packets.ConnectParams{WillFlag: true, WillTopic: "w"},
				Properties:      packets.Properties{TopicAliasFlag: true, TopicAlias: 1},
			})
		}
	}
	return out
}

// TestPacketTypesAsClaimed: a hook of ours that says which packet types its
// OnPacketRead or OnPacketEncode works on returns every other packet as it
// came and no error (packetHooks no longer calls it for them). It fails
// when a hook's switch gains a packet type its PacketTypes does not list
// and the hook changes or refuses such a packet (a side effect alone, such
// as the queue hook's release, it does not see).
func TestPacketTypesAsClaimed(t *testing.T) {
	br := brokerForPacketHooks(t)
	var clients []*mqtt.Client
	for _, v := range []byte{4, 5} {
		cl := br.server.NewClient(nil, "127.0.0.1:1", fmt.Sprintf("c%d", v), false)
		cl.Net.Listener = br.order[0].id
		cl.Properties.ProtocolVersion = v
		cl.Properties.Username = []byte("u")
		out := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}, PacketID: 1, TopicName: "m/a"}
		cl.State.Inflight.Set(out)
		clients = append(clients, cl)
	}
	if len(br.packets.read) < 5 || len(br.packets.enc) < 5 {
		t.Fatalf("packetHooks has %d OnPacketRead and %d OnPacketEncode hooks, want ours (at least 5 each)", len(br.packets.read), len(br.packets.enc))
	}
	for _, c := range []struct {
		event string
		hooks []typedHook
	}{{"OnPacketRead", br.packets.read}, {"OnPacketEncode", br.packets.enc}} {
		for _, h := range c.hooks {
			// mochi must not call it as well: twice would, for one, deliver
			// a QoS 1 message twice.
			if _, ok := h.h.(packetTyper); !ok || h.h.Provides(mqtt.OnPacketRead) || h.h.Provides(mqtt.OnPacketEncode) {
				t.Errorf("%s: is a packetTyper %v, provides OnPacketRead %v, OnPacketEncode %v to mochi; want true, false, false",
					h.h.ID(), ok, h.h.Provides(mqtt.OnPacketRead), h.h.Provides(mqtt.OnPacketEncode))
			}
			for typ := byte(0); typ < 16; typ++ {
				if h.types&(1<<typ) != 0 {
					continue
				}
				for _, cl := range clients {
					for _, pk := range samplePackets(typ) {
						var got packets.Packet
						var err error
						if c.event == "OnPacketRead" {
							got, err = h.h.OnPacketRead(cl, pk)
						} else {
							got = h.h.OnPacketEncode(cl, pk)
						}
						if err != nil || !reflect.DeepEqual(got, pk) {
							t.Errorf("%s %s of packet type %d (v%d): changed it or said %v, but PacketTypes leaves the type out",
								h.h.ID(), c.event, typ, cl.Properties.ProtocolVersion, err)
						}
					}
				}
			}
		}
	}
}

// unstartedBroker is a broker (not started) with the configuration cfg,
// closed when the test ends.
func unstartedBroker(t testing.TB, cfg []byte) *Broker {
	t.Helper()
	br, _ := unstartedBrokerConf(t, cfg)
	return br
}

// unstartedBrokerConf is unstartedBroker and the parsed configuration.
func unstartedBrokerConf(t testing.TB, cfg []byte) (*Broker, *conf.Config) {
	t.Helper()
	c, err := conf.Parse("b.conf", cfg)
	if err != nil {
		t.Fatal(err)
	}
	br, err := New(c, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { br.Close() })
	return br, c
}

// brokerForPacketHooks is a broker with every hook of ours that works on
// packets (a mount point adds one).
func brokerForPacketHooks(t *testing.T) *Broker {
	t.Helper()
	br := unstartedBroker(t, []byte("listener 1 127.0.0.1\nmount_point m/\nretain_available false\nallow_anonymous true\n"))
	return br
}

// fakeHook is a hook that adds its name to the topic of every packet it
// reads or encodes, or answers err; typedFake does so only for its types.
type fakeHook struct {
	mqtt.HookBase
	name  string
	err   error
	calls int
}

func (h *fakeHook) ID() string { return h.name }
func (h *fakeHook) Provides(b byte) bool {
	return b == mqtt.OnPacketRead || b == mqtt.OnPacketEncode || b == mqtt.OnPublish
}
func (h *fakeHook) OnPacketRead(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	h.calls++
	pk.TopicName += h.name
	return pk, h.err
}
func (h *fakeHook) OnPacketEncode(_ *mqtt.Client, pk packets.Packet) packets.Packet {
	h.calls++
	pk.TopicName += h.name
	return pk
}

type typedFake struct {
	*fakeHook
	types uint16
}

func (h typedFake) Provides(b byte) bool    { return b == mqtt.OnPublish }
func (h typedFake) PacketTypes(byte) uint16 { return h.types }

// TestPacketHooksLoopAsMochi: packetHooks calls its hooks in order, only
// for their packet types, skips the result of a hook that fails and stops
// at a refusal with the packet as read, as mochi's loops do; mochi gets a
// packetTyper as it is and another hook without the two events.
func TestPacketHooksLoopAsMochi(t *testing.T) {
	var p packetHooks
	a := &fakeHook{name: "a"}
	b := &fakeHook{name: "b"}
	c := &fakeHook{name: "c", err: errors.New("failed")}
	d := &fakeHook{name: "d"}
	hooks := []mqtt.Hook{a, typedFake{b, typesOf(packets.Puback)}, c, typedFake{d, typesOf(packets.Publish, packets.Puback)}}
	for i, h := range hooks {
		m := p.add(h)
		if _, typed := h.(packetTyper); typed != (m == h) {
			t.Errorf("hook %d: packetTyper %v, given to mochi as it is %v", i, typed, m == h)
		}
		if m.Provides(mqtt.OnPacketRead) || m.Provides(mqtt.OnPacketEncode) || !m.Provides(mqtt.OnPublish) || m.ID() != h.ID() {
			t.Errorf("mochi sees %s providing read %v, encode %v, publish %v, id %s", h.ID(),
				m.Provides(mqtt.OnPacketRead), m.Provides(mqtt.OnPacketEncode), m.Provides(mqtt.OnPublish), m.ID())
		}
	}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t/"}
	got, err := p.OnPacketRead(nil, pub)
	if err != nil || got.TopicName != "t/ad" {
		t.Errorf("read: topic %q, err %v; want t/ad, nil", got.TopicName, err)
	}
	if got := p.OnPacketEncode(nil, pub); got.TopicName != "t/acd" {
		t.Errorf("encode: topic %q; want t/acd", got.TopicName)
	}
	if b.calls != 0 {
		t.Errorf("b was called %d times for packets it does not work on", b.calls)
	}
	c.err = packets.ErrRejectPacket
	got, err = p.OnPacketRead(nil, pub)
	if !errors.Is(err, packets.ErrRejectPacket) || got.TopicName != "t/" || d.calls != 2 {
		t.Errorf("refused read: topic %q, err %v, d called %d times; want t/, a refusal, 2", got.TopicName, err, d.calls)
	}
}

// packetTypeNames are mochi's packet type constants by name.
var packetTypeNames = map[string]byte{
	"Reserved": packets.Reserved, "Connect": packets.Connect, "Connack": packets.Connack, "Publish": packets.Publish,
	"Puback": packets.Puback, "Pubrec": packets.Pubrec, "Pubrel": packets.Pubrel, "Pubcomp": packets.Pubcomp,
	"Subscribe": packets.Subscribe, "Suback": packets.Suback, "Unsubscribe": packets.Unsubscribe, "Unsuback": packets.Unsuback,
	"Pingreq": packets.Pingreq, "Pingresp": packets.Pingresp, "Disconnect": packets.Disconnect, "Auth": packets.Auth,
}

// packetMethod is what the source says of one hook's OnPacketRead or
// OnPacketEncode: the packet types it tests its packet for, and whether it
// does anything at all.
type packetMethod struct {
	pkg, recv, event string
	pos              string
	types            uint16
	trivial          bool // its body only returns the packet as it came
	inPlace          bool // OnPacketReadInPlace or OnPacketEncodeInPlace
	unread           []string
}

// readPacketMethods parses the non-test files of dir and returns every
// OnPacketRead and OnPacketEncode method (its InPlace form when it has one:
// the other is that on a copy), with the packet types its body
// compares its packet's type with: in a switch on pk.FixedHeader.Type (or
// on a variable set from it) and in == and != against a packets constant.
// Any other test of the type (<, a case that is not a packets constant) is
// listed in unread: the guard cannot read it, so it must fail.
func readPacketMethods(t *testing.T, dir, pkg string) (methods []packetMethod, typers map[string]bool) {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	typers = map[string]bool{}
	inPlaces := map[string]bool{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Recv == nil || len(fd.Recv.List) != 1 || fd.Body == nil {
				continue
			}
			recv := fd.Recv.List[0].Type
			if s, ok := recv.(*ast.StarExpr); ok {
				recv = s.X
			}
			id, ok := recv.(*ast.Ident)
			if !ok {
				continue
			}
			switch fd.Name.Name {
			case "PacketTypes":
				typers[id.Name] = true
			case "OnPacketRead", "OnPacketEncode", "OnPacketReadInPlace", "OnPacketEncodeInPlace":
				params := fd.Type.Params.List
				if len(params) != 2 || len(params[1].Names) != 1 {
					t.Fatalf("%s: %s.%s: want (cl *mqtt.Client, pk packets.Packet)", fset.Position(fd.Pos()), id.Name, fd.Name.Name)
				}
				event, inPlace := strings.CutSuffix(fd.Name.Name, "InPlace")
				m := packetMethod{pkg: pkg, recv: id.Name, event: event, pos: fset.Position(fd.Pos()).String()}
				m.types, m.trivial, m.unread = dispatchOf(fset, fd.Body, params[1].Names[0].Name)
				if inPlace {
					inPlaces[id.Name+"."+event] = true
					m.inPlace = true
				}
				methods = append(methods, m)
			}
		}
	}
	methods = slices.DeleteFunc(methods, func(m packetMethod) bool { return !m.inPlace && inPlaces[m.recv+"."+m.event] })
	return methods, typers
}

// dispatchOf reads the packet types a method body tests pk's type for.
func dispatchOf(fset *token.FileSet, body *ast.BlockStmt, pk string) (types uint16, trivial bool, unread []string) {
	aliases := map[string]bool{} // variables set from pk.FixedHeader.Type
	isType := func(e ast.Expr) bool {
		if id, ok := e.(*ast.Ident); ok {
			return aliases[id.Name]
		}
		s, ok := e.(*ast.SelectorExpr)
		if !ok || s.Sel.Name != "Type" {
			return false
		}
		fh, ok := s.X.(*ast.SelectorExpr)
		if !ok || fh.Sel.Name != "FixedHeader" {
			return false
		}
		id, ok := fh.X.(*ast.Ident)
		return ok && id.Name == pk
	}
	constant := func(e ast.Expr) bool {
		if s, ok := e.(*ast.SelectorExpr); ok {
			if x, ok := s.X.(*ast.Ident); ok && x.Name == "packets" {
				if v, ok := packetTypeNames[s.Sel.Name]; ok {
					types |= 1 << v
					return true
				}
			}
		}
		unread = append(unread, fmt.Sprintf("%s: a test of the packet type against %s", fset.Position(e.Pos()), types2str(e)))
		return false
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			if len(n.Lhs) == 1 && len(n.Rhs) == 1 && isType(n.Rhs[0]) {
				if id, ok := n.Lhs[0].(*ast.Ident); ok {
					aliases[id.Name] = true
				}
			}
		case *ast.SwitchStmt:
			if n.Init != nil {
				ast.Inspect(n.Init, func(m ast.Node) bool {
					if a, ok := m.(*ast.AssignStmt); ok && len(a.Lhs) == 1 && len(a.Rhs) == 1 && isType(a.Rhs[0]) {
						if id, ok := a.Lhs[0].(*ast.Ident); ok {
							aliases[id.Name] = true
						}
					}
					return true
				})
			}
			if n.Tag != nil && isType(n.Tag) {
				for _, c := range n.Body.List {
					for _, e := range c.(*ast.CaseClause).List {
						constant(e)
					}
				}
			}
		case *ast.BinaryExpr:
			l, r := isType(n.X), isType(n.Y)
			if !l && !r {
				break
			}
			if n.Op != token.EQL && n.Op != token.NEQ {
				unread = append(unread, fmt.Sprintf("%s: a %s test of the packet type", fset.Position(n.Pos()), n.Op))
				break
			}
			if l {
				constant(n.Y)
			} else {
				constant(n.X)
			}
		}
		return true
	})
	// A body that only returns its packet does nothing with any type.
	if len(body.List) == 1 {
		if ret, ok := body.List[0].(*ast.ReturnStmt); ok && len(ret.Results) > 0 {
			if id, ok := ret.Results[0].(*ast.Ident); ok && id.Name == pk {
				trivial = true
			}
		}
	}
	return types, trivial, unread
}

func types2str(e ast.Expr) string {
	var b strings.Builder
	if err := printer.Fprint(&b, token.NewFileSet(), e); err != nil {
		return fmt.Sprintf("%T", e)
	}
	return b.String()
}

// typeNames lists the packet types of a set by name.
func typeNames(s uint16) string {
	var out []string
	for name, v := range packetTypeNames {
		if s&(1<<v) != 0 {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return strings.Join(out, ", ")
}

// TestPacketTypesCoverDispatch is the other half of TestPacketTypesAsClaimed,
// read from the source: every packet type that one of our hooks'
// OnPacketRead or OnPacketEncode tests its packet for is among those its
// PacketTypes gives for that event, so that packetHooks calls it for them.
// A hook whose method does something without testing the type works on
// every type and must say so (allTypes); one with such a method and no
// PacketTypes, or that packetHooks never calls for a type it tests for,
// fails. It catches what the other test cannot see: a method whose only
// effect is on the hook's own state (the queue's release, the store's
// acknowledgements, the bridge client's record), and a type left out of
// PacketTypes that the sample packets do not exercise. The type tests must
// be written in the method itself (a switch on pk.FixedHeader.Type, or ==
// and != against packets constants): a test this cannot read fails too.
func TestPacketTypesCoverDispatch(t *testing.T) {
	br := brokerForPacketHooks(t)
	hooks := map[string]map[string]typedHook{"OnPacketRead": {}, "OnPacketEncode": {}}
	for event, hs := range map[string][]typedHook{"OnPacketRead": br.packets.read, "OnPacketEncode": br.packets.enc} {
		for _, h := range hs {
			rt := reflect.TypeOf(h.h)
			for rt.Kind() == reflect.Pointer {
				rt = rt.Elem()
			}
			hooks[event][rt.PkgPath()+"."+rt.Name()] = h
		}
	}
	var methods []packetMethod
	checked := 0
	for dir, pkg := range map[string]string{".": "mqtls/broker", "store": "mqtls/broker/store"} {
		ms, typers := readPacketMethods(t, dir, pkg)
		ms = slices.DeleteFunc(ms, func(m packetMethod) bool { return m.recv == "packetHooks" || m.recv == "hookLoop" }) // the routers themselves
		for _, m := range ms {
			if !typers[m.recv] {
				t.Errorf("%s: %s has an %s but no PacketTypes: packetHooks calls it for every packet; say which types it works on", m.pos, m.recv, m.event)
			}
		}
		methods = append(methods, ms...)
	}
	for _, m := range methods {
		for _, u := range m.unread {
			t.Errorf("%s.%s: %s: write it as a switch on pk.FixedHeader.Type or == against a packets constant, so that this guard reads it", m.recv, m.event, u)
		}
		want := m.types
		if want == 0 && !m.trivial {
			want = allTypes // it works on every packet
		}
		if want == 0 {
			continue
		}
		h, ok := hooks[m.event][m.pkg+"."+m.recv]
		if !ok {
			t.Errorf("%s: %s.%s works on %s, but packetHooks never calls it (its PacketTypes lists none for %s, or the broker does not add it here)",
				m.pos, m.recv, m.event, typeNames(want), m.event)
			continue
		}
		checked++
		if missing := want &^ h.types; missing != 0 {
			t.Errorf("%s: %s.%s works on %s, which its PacketTypes leaves out: packetHooks never calls it for them",
				m.pos, m.recv, m.event, typeNames(missing))
		}
	}
	if checked < 10 {
		t.Errorf("checked %d methods against the hooks packetHooks calls, want all of ours (at least 10)", checked)
	}
}

// inPlaceFake is a typedFake that works on the packet itself, and may
// refuse it after changing it.
type inPlaceFake struct{ typedFake }

func (h inPlaceFake) OnPacketReadInPlace(_ *mqtt.Client, pk *packets.Packet) error {
	h.calls++
	pk.TopicName += h.name
	return h.err
}

func (h inPlaceFake) OnPacketEncodeInPlace(_ *mqtt.Client, pk *packets.Packet) {
	h.calls++
	pk.TopicName += h.name
}

// TestPacketHooksInPlace: a hook that works on the packet itself is called
// so, in order with the others; a refusal still ends the loop with the
// packet as read, whatever the hook changed before it refused.
func TestPacketHooksInPlace(t *testing.T) {
	var p packetHooks
	a := &fakeHook{name: "a"}
	b := &fakeHook{name: "b"}
	c := &fakeHook{name: "c"}
	all := typesOf(packets.Publish)
	for _, h := range []mqtt.Hook{typedFake{a, all}, inPlaceFake{typedFake{b, all}}, typedFake{c, all}} {
		p.add(h)
	}
	if p.read[1].reader == nil || p.enc[1].encoder == nil || p.read[0].reader != nil {
		t.Fatal("packetHooks does not call the in-place hook in place, or calls another so")
	}
	pub := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "t/"}
	got, err := p.OnPacketRead(nil, pub)
	if err != nil || got.TopicName != "t/abc" {
		t.Errorf("read: topic %q, err %v; want t/abc, nil", got.TopicName, err)
	}
	if got := p.OnPacketEncode(nil, pub); got.TopicName != "t/abc" {
		t.Errorf("encode: topic %q; want t/abc", got.TopicName)
	}
	b.err = packets.ErrRejectPacket
	got, err = p.OnPacketRead(nil, pub)
	if !errors.Is(err, packets.ErrRejectPacket) || got.TopicName != "t/" || c.calls != 2 {
		t.Errorf("refused read: topic %q, err %v, c called %d times; want t/, a refusal, 2", got.TopicName, err, c.calls)
	}
}

// TestMessagePathInPlace: every hook of ours that packetHooks calls for a
// PUBLISH or one of its acknowledgements works on the packet itself: a
// copy of mochi's 800-byte packet in and out of each costs about 400
// instructions a message.
func TestMessagePathInPlace(t *testing.T) {
	br := brokerForPacketHooks(t)
	msg := typesOf(packets.Publish, packets.Puback, packets.Pubrec, packets.Pubrel, packets.Pubcomp)
	n := 0
	for _, h := range br.packets.read {
		if h.types&msg != 0 {
			n++
			if h.reader == nil {
				t.Errorf("%s: OnPacketRead of %s on a copy", h.h.ID(), typeNames(h.types&msg))
			}
		}
	}
	for _, h := range br.packets.enc {
		if h.types&msg != 0 {
			n++
			if h.encoder == nil {
				t.Errorf("%s: OnPacketEncode of %s on a copy", h.h.ID(), typeNames(h.types&msg))
			}
		}
	}
	if n < 7 {
		t.Errorf("%d of our hooks on the message path, want at least 7", n)
	}
}

// TestMessagePathRoutersAllocateNothing: a QoS 0 PUBLISH read, judged and
// delivered through packetHooks and publishHooks with the broker's own
// hooks allocates nothing (a packet passed to a hook through an interface
// by pointer would escape: 800 bytes a call).
func TestMessagePathRoutersAllocateNothing(t *testing.T) {
	br := unstartedBroker(t, []byte("listener 1 127.0.0.1\nallow_anonymous true\nmax_retained_bytes 1000\nmessage_size_limit 100\n"))
	pub := br.server.NewClient(nil, "127.0.0.1:1", "dev1", false)
	sub := br.server.NewClient(nil, "127.0.0.1:1", "dev2", false)
	pub.Properties.ProtocolVersion, sub.Properties.ProtocolVersion = 4, 4
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: "devices/dev1/temp", Payload: []byte("21.5")}
	var failed error
	allocs := testing.AllocsPerRun(100, func() {
		got, err := br.packets.OnPacketRead(pub, pk)
		if err == nil {
			got, err = br.publish.OnPublish(pub, got)
		}
		if err != nil {
			failed = err
		}
		br.packets.OnPacketEncode(sub, got)
	})
	if failed != nil {
		t.Fatal(failed)
	}
	if allocs != 0 {
		t.Fatalf("%.0f allocations per message, want 0", allocs)
	}
}

// TestEveryHookGivenToMochiProvidesAnEvent: mochi asks every hook it holds
// whether it provides each event of every packet, so a hook that provides
// none (its packet events run inside packetHooks) must not be given to it.
func TestEveryHookGivenToMochiProvidesAnEvent(t *testing.T) {
	br := brokerForPacketHooks(t)
	for _, h := range br.hooks {
		provides := false
		for e := byte(0); e < 64; e++ {
			provides = provides || h.Provides(e)
		}
		if !provides {
			t.Errorf("hook %s is given to mochi but provides it no event", h.ID())
		}
	}
}

// TestHookMethodsProvided: the hook loop calls a hook for an event only
// when its Provides lists it (as mochi does), so a method a hook of ours
// writes for an event it does not list would never run. Every such method
// must be listed, or be one of those packetHooks (OnPacketRead,
// OnPacketEncode: PacketTypes) or publishHooks (OnPublish of a judge) calls.
func TestHookMethodsProvided(t *testing.T) {
	br := unstartedBroker(t, []byte("listener 1 127.0.0.1\nmount_point m/\nallow_anonymous true\nmax_retained_bytes 1000\nmessage_size_limit 100\n"))
	events := map[string]byte{
		"OnStarted": mqtt.OnStarted, "OnStopped": mqtt.OnStopped, "OnSysInfoTick": mqtt.OnSysInfoTick,
		"OnConnectAuthenticate": mqtt.OnConnectAuthenticate, "OnACLCheck": mqtt.OnACLCheck,
		"OnConnect": mqtt.OnConnect, "OnSessionEstablish": mqtt.OnSessionEstablish,
		"OnSessionEstablished": mqtt.OnSessionEstablished, "OnDisconnect": mqtt.OnDisconnect,
		"OnAuthPacket": mqtt.OnAuthPacket, "OnPacketRead": mqtt.OnPacketRead, "OnPacketEncode": mqtt.OnPacketEncode,
		"OnPacketSent": mqtt.OnPacketSent, "OnPacketProcessed": mqtt.OnPacketProcessed,
		"OnSubscribe": mqtt.OnSubscribe, "OnSubscribed": mqtt.OnSubscribed, "OnSelectSubscribers": mqtt.OnSelectSubscribers,
		"OnUnsubscribe": mqtt.OnUnsubscribe, "OnUnsubscribed": mqtt.OnUnsubscribed, "OnPublish": mqtt.OnPublish,
		"OnPublished": mqtt.OnPublished, "OnPublishDropped": mqtt.OnPublishDropped, "OnRetainMessage": mqtt.OnRetainMessage,
		"OnRetainPublished": mqtt.OnRetainPublished, "OnQosPublish": mqtt.OnQosPublish, "OnQosComplete": mqtt.OnQosComplete,
		"OnQosDropped": mqtt.OnQosDropped, "OnPacketIDExhausted": mqtt.OnPacketIDExhausted, "OnWill": mqtt.OnWill,
		"OnWillSent": mqtt.OnWillSent, "OnClientExpired": mqtt.OnClientExpired, "OnRetainedExpired": mqtt.OnRetainedExpired,
		"StoredClients": mqtt.StoredClients, "StoredSubscriptions": mqtt.StoredSubscriptions,
		"StoredInflightMessages": mqtt.StoredInflightMessages, "StoredRetainedMessages": mqtt.StoredRetainedMessages,
		"StoredSysInfo": mqtt.StoredSysInfo,
	}
	hooks := append(slices.Clone(br.hooks), &mountHook{b: br})
	checked := 0
	for _, h := range hooks {
		if h == mqtt.Hook(br.packets) || h == mqtt.Hook(br.publish) {
			continue
		}
		rt := reflect.TypeOf(h)
		for i := 0; i < rt.NumMethod(); i++ {
			m := rt.Method(i)
			e, ok := events[m.Name]
			if !ok {
				continue
			}
			pc := m.Func.Pointer()
			if file, _ := runtime.FuncForPC(pc).FileLine(pc); file == "<autogenerated>" {
				continue // HookBase's
			}
			checked++
			_, typer := h.(packetTyper)
			_, judge := h.(publishJudge)
			switch {
			case h.Provides(e):
			case typer && (e == mqtt.OnPacketRead || e == mqtt.OnPacketEncode):
			case judge && e == mqtt.OnPublish:
			default:
				t.Errorf("%s has its own %s, but does not provide it: neither mochi nor the hook loop calls it", h.ID(), m.Name)
			}
		}
	}
	if checked < 20 {
		t.Fatalf("checked %d methods of our hooks, want at least 20: the guard no longer sees them", checked)
	}
}
