package mosqdiff

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/mqttraw"
	"mqtls/internal/testutil"
)

// wait bounds every read that expects an answer; a broker that does not
// answer shows as "timeout" in its transcript.
const wait = 3 * time.Second

// profile is a broker configuration; both brokers get the same lines after
// their listener line. In conf, {dir} is a folder holding files (name to
// content) and {port2} the port of a second listener, which the clients of
// a conn with second set dial.
type profile struct {
	name  string
	conf  string
	files map[string]string
}

var profiles = []profile{
	{"default", "allow_anonymous true\n", nil},
	{"limits", "allow_anonymous true\nmax_keepalive 60\nmax_packet_size 1000\n", nil},
	{"noretain", "allow_anonymous true\nretain_available false\n", nil},
	{"sizelimit", "allow_anonymous true\nmessage_size_limit 10\n", nil},
	mountProfile,
	aclProfile,
	patternProfile,
	dynsecProfile,
	{"closed", "allow_anonymous false\n", nil},
}

// scenario is one script. Its name is also the first topic level it uses,
// so that scenarios cannot see each other's messages.
type scenario struct {
	name    string
	profile string
	run     func(e *env)
}

// env runs one scenario against one broker and records what it answers.
type env struct {
	t      *testing.T
	broker string
	addr   string
	addr2  string // the second listener's, when the profile has one
	name   string
	lines  []string
	conns  []*client
	nsync  int
}

func (e *env) logf(format string, a ...any) {
	e.lines = append(e.lines, fmt.Sprintf(format, a...))
}

// topic names a topic of this scenario.
func (e *env) topic(rest string) string {
	if rest == "" {
		return e.name
	}
	return e.name + "/" + rest
}

// client is one connection of a scenario.
type client struct {
	e     *env
	label string
	c     *mqttraw.Conn
	// noAck leaves QoS 1 and 2 deliveries unacknowledged.
	noAck  bool
	nextID uint16
	closed bool
	synced bool
	// releases counts the QoS 2 deliveries whose PUBREL has not come.
	releases int
	// held, when not nil, collects the lines of packets read while
	// waiting for an ack (see await).
	held *[]string
}

// log records a line of this client.
func (c *client) log(format string, a ...any) {
	if c.held != nil {
		*c.held = append(*c.held, fmt.Sprintf(format, a...))
		return
	}
	c.e.logf(format, a...)
}

// await reads up to a packet of type t and records it before the packets
// that came ahead of it: mochi queues deliveries (retained messages on
// SUBSCRIBE) and writes acks at once, Mosquitto writes both in order, and
// either order is correct.
func (c *client) await(t byte) packets.Packet {
	var held []string
	c.held = &held
	var got packets.Packet
	for {
		pk, ok := c.recv(wait, true)
		if !ok || pk.FixedHeader.Type == t {
			got = pk
			break
		}
	}
	c.held = nil
	if n := len(held); n > 0 {
		// the ack (or the end) is the last line held
		c.e.lines = append(c.e.lines, held[n-1])
		c.e.lines = append(c.e.lines, held[:n-1]...)
	}
	return got
}

// dial opens a connection without sending anything.
func (e *env) dial(label string, v byte) *client { return e.dialAt(e.addr, label, v) }

func (e *env) dialAt(addr, label string, v byte) *client {
	if addr == "" {
		e.t.Fatalf("%s: the profile has no second listener", e.name)
	}
	c, err := mqttraw.Dial(addr, v)
	if err != nil {
		e.t.Fatalf("%s: dial %s: %v", e.broker, addr, err)
	}
	cl := &client{e: e, label: label, c: c, nextID: 1}
	e.conns = append(e.conns, cl)
	return cl
}

// conn holds the CONNECT fields a scenario sets.
type conn struct {
	id        string
	noClean   bool
	keepalive int // 0: 30 seconds; -1: none
	props     packets.Properties
	will      *will
	user      string
	pass      string
	protoName string
	protoByte byte
	// second dials the profile's second listener.
	second bool
}

type will struct {
	topic   string
	payload string
	qos     byte
	retain  bool
	props   packets.Properties
}

func connectPacket(v byte, o conn) packets.Packet {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connect}}
	pk.Connect.ClientIdentifier = o.id
	pk.Connect.Clean = !o.noClean
	switch o.keepalive {
	case 0:
		pk.Connect.Keepalive = 30
	case -1:
	default:
		pk.Connect.Keepalive = uint16(o.keepalive)
	}
	pk.Properties = o.props
	if o.will != nil {
		pk.Connect.WillFlag = true
		pk.Connect.WillTopic = o.will.topic
		pk.Connect.WillPayload = []byte(o.will.payload)
		pk.Connect.WillQos = o.will.qos
		pk.Connect.WillRetain = o.will.retain
		pk.Connect.WillProperties = o.will.props
	}
	if o.user != "" {
		pk.Connect.UsernameFlag = true
		pk.Connect.Username = []byte(o.user)
	}
	if o.pass != "" {
		pk.Connect.PasswordFlag = true
		pk.Connect.Password = []byte(o.pass)
	}
	if o.protoName != "" {
		pk.Connect.ProtocolName = []byte(o.protoName)
	}
	return pk
}

// connect dials, sends CONNECT with client id label (unless o.id is set)
// and records the answer.
func (e *env) connect(label string, v byte, o conn) *client {
	if o.id == "" {
		o.id = e.name + "-" + label
	}
	return e.connectRaw(label, v, o)
}

// connectRaw is connect without the default client id.
func (e *env) connectRaw(label string, v byte, o conn) *client {
	addr := e.addr
	if o.second {
		addr = e.addr2
	}
	c := e.dialAt(addr, label, v)
	b, err := mqttraw.Encode(connectPacket(v, o), v)
	if err != nil {
		e.t.Fatal(err)
	}
	if o.protoByte != 0 {
		b[levelOffset(b)] = o.protoByte
	}
	c.raw(b)
	c.expect()
	return c
}

// levelOffset finds the protocol level byte of an encoded CONNECT: after
// the fixed header and the protocol name.
func levelOffset(b []byte) int {
	i := 1
	for b[i]&0x80 != 0 {
		i++
	}
	i++
	return i + 2 + (int(b[i])<<8 | int(b[i+1]))
}

// send and raw do not record write errors: a broker that closed the
// connection shows in the read that follows.
func (c *client) send(pk packets.Packet) {
	b, err := mqttraw.Encode(pk, c.c.V)
	if err != nil {
		c.e.t.Fatalf("encode: %v", err)
	}
	c.raw(b)
}

func (c *client) raw(b []byte) { _ = c.c.SendRaw(b) }

// recv reads one packet, answering deliveries as a client does; it records
// what it read and reports false once the connection is closed or silent.
func (c *client) recv(d time.Duration, record bool) (packets.Packet, bool) {
	if c.closed {
		return packets.Packet{}, false
	}
	pk, err := c.c.Recv(d)
	switch {
	case errors.Is(err, mqttraw.ErrTimeout):
		if record {
			c.log("%s timeout", c.label)
		}
		return pk, false
	case err != nil && mqttraw.Closed(err):
		c.closed = true
		c.log("%s closed", c.label)
		return pk, false
	case err != nil:
		c.log("%s < undecodable: %v", c.label, err)
		c.closed = true
		c.c.Close()
		return pk, false
	}
	if pk.FixedHeader.Type == packets.Publish && strings.HasPrefix(pk.TopicName, c.e.topic("sync/")) {
		return pk, true
	}
	delivery := pk.FixedHeader.Type == packets.Pubrel && !c.noAck && c.releases > 0
	if !delivery && (pk.FixedHeader.Type != packets.Publish || strings.Contains(pk.TopicName, c.e.name)) {
		c.log("%s < %s", c.label, mqttraw.Format(pk))
	}
	c.answer(pk)
	return pk, true
}

func (c *client) answer(pk packets.Packet) {
	if c.noAck {
		return
	}
	switch {
	case pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 1:
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, PacketID: pk.PacketID})
	case pk.FixedHeader.Type == packets.Publish && pk.FixedHeader.Qos == 2:
		c.releases++
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrec}, PacketID: pk.PacketID})
	case pk.FixedHeader.Type == packets.Pubrel:
		c.releases--
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubcomp}, PacketID: pk.PacketID})
	case pk.FixedHeader.Type == packets.Pubrec && pk.ReasonCode < 0x80:
		// a PUBREC with a failure code ends the flow [MQTT-4.3.3-4]
		c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel}, PacketID: pk.PacketID})
	}
}

// expect reads and records the next packet.
func (c *client) expect() packets.Packet {
	pk, _ := c.recv(wait, true)
	return pk
}

// expectIn reads and records the next packet if it comes within d.
func (c *client) expectIn(d time.Duration) { c.recv(d, true) }

// expectN reads n packets.
func (c *client) expectN(n int) {
	for range n {
		if _, ok := c.recv(wait, true); !ok {
			return
		}
	}
}

// end reads until the broker closes the connection, recording what it sends
// first; "timeout" means it kept the connection open.
func (c *client) end() {
	for {
		if _, ok := c.recv(wait, true); !ok {
			return
		}
	}
}

// ping sends PINGREQ and reads up to the PINGRESP: the broker is still
// talking to this client.
func (c *client) ping() {
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pingreq}})
	for {
		pk, ok := c.recv(wait, true)
		if !ok || pk.FixedHeader.Type == packets.Pingresp {
			return
		}
	}
}

func (c *client) id() uint16 {
	id := c.nextID
	c.nextID++
	return id
}

// sub subscribes to filters with options o (QoS in the low bits, as on the
// wire) and records the SUBACK.
func (c *client) sub(props packets.Properties, subs ...packets.Subscription) {
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: c.id(), Filters: subs, Properties: props})
	c.await(packets.Suback)
}

// subq subscribes to each filter with qos.
func (c *client) subq(qos byte, filters ...string) {
	var s []packets.Subscription
	for _, f := range filters {
		s = append(s, packets.Subscription{Filter: f, Qos: qos})
	}
	c.sub(packets.Properties{}, s...)
}

func (c *client) unsub(filters ...string) {
	var s []packets.Subscription
	for _, f := range filters {
		s = append(s, packets.Subscription{Filter: f})
	}
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Unsubscribe}, PacketID: c.id(), Filters: s})
	c.await(packets.Unsuback)
}

// pubp publishes and runs the QoS flow to its end, recording the acks.
func (c *client) pubp(t string, payload string, qos byte, retain bool, props packets.Properties) {
	pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain}, TopicName: t, Payload: []byte(payload), Properties: props}
	if qos > 0 {
		pk.PacketID = c.id()
	}
	c.send(pk)
	switch qos {
	case 1:
		c.expect()
	case 2:
		if pk := c.expect(); pk.FixedHeader.Type == packets.Pubrec && pk.ReasonCode < 0x80 {
			c.expect() // PUBCOMP; answer sent the PUBREL
		}
	}
}

func (c *client) pub(t string, payload string, qos byte, retain bool) {
	c.pubp(t, payload, qos, retain, packets.Properties{})
}

// disconnect sends DISCONNECT with reason rc (v5) and waits for the close.
func (c *client) disconnect(rc byte, props packets.Properties) {
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Disconnect}, ReasonCode: rc, Properties: props})
	c.end()
}

// drop closes the connection without DISCONNECT.
func (c *client) drop() {
	c.closed = true
	c.c.Close()
}

// syncSub subscribes, without recording, to this scenario's sync topics.
func (c *client) syncSub() {
	c.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe}, PacketID: c.id(), Filters: packets.Subscriptions{{Filter: c.e.topic("sync/+")}}})
	pk, err := c.c.Recv(wait)
	if err != nil || pk.FixedHeader.Type != packets.Suback {
		c.e.logf("%s sync subscribe failed", c.label)
		return
	}
	c.synced = true
}

// sync publishes a marker from p and has each of subs read everything
// delivered before it: the deliveries of p's earlier publishes. After a
// SUBSCRIBE, the retained messages it brings are ordered only before the
// subscriber's own next packet: sync(s, s) waits for them.
func (e *env) sync(p *client, subs ...*client) {
	e.nsync++
	m := e.topic(fmt.Sprintf("sync/%d", e.nsync))
	p.send(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: m, Payload: []byte("sync")})
	for _, s := range subs {
		if !s.synced {
			e.t.Fatalf("%s: sync on %s, which has no sync subscription", e.name, s.label)
		}
		seen := false
		for !seen || s.releases > 0 {
			pk, ok := s.recv(wait, true)
			if !ok {
				break
			}
			seen = seen || (pk.FixedHeader.Type == packets.Publish && pk.TopicName == m)
		}
	}
}

// quiet records what s receives within d: for what may only come later
// (a will after a takeover), where no marker can order it. Used only to
// see that nothing arrives.
func (s *client) quiet(d time.Duration) {
	deadline := time.Now().Add(d)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			return
		}
		if _, ok := s.recv(left, false); !ok {
			return
		}
	}
}

// render writes a profile's files and returns its configuration for a
// broker listening on port, and the second listener's address ("" for
// none).
func (p profile) render(t *testing.T, port int) (string, string) {
	dir := t.TempDir()
	for name, body := range p.files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	c, addr2 := p.conf, ""
	if strings.Contains(c, "{port2}") {
		port2 := testutil.FreePort(t)
		c = strings.ReplaceAll(c, "{port2}", fmt.Sprint(port2))
		addr2 = testutil.Addr(port2)
	}
	c = strings.ReplaceAll(c, "{dir}", dir)
	return fmt.Sprintf("listener %d 127.0.0.1\n%s", port, c), addr2
}

// startMosquitto and startMqtls start the brokers of a profile and return
// the addresses of its listeners.
func startMosquitto(t *testing.T, p profile) (string, string) {
	port := testutil.FreePort(t)
	c, addr2 := p.render(t, port)
	pr := testutil.Mosquitto(t, port, c)
	if addr2 != "" {
		testutil.WaitPort(t, pr, addr2)
	}
	return testutil.Addr(port), addr2
}

func startMqtls(t *testing.T, p profile) (string, string) {
	port := testutil.FreePort(t)
	c, addr2 := p.render(t, port)
	dir := t.TempDir()
	path := filepath.Join(dir, "mqtls.conf")
	if err := os.WriteFile(path, []byte(c), 0o600); err != nil {
		t.Fatal(err)
	}
	pr := testutil.Start(t, dir, testutil.Mqtls(t), "broker", "-c", path)
	testutil.WaitPort(t, pr, testutil.Addr(port))
	if addr2 != "" {
		testutil.WaitPort(t, pr, addr2)
	}
	return testutil.Addr(port), addr2
}

// play runs a scenario against one broker and returns its transcript.
func play(t *testing.T, broker string, addrs [2]string, s scenario) []string {
	e := &env{t: t, broker: broker, addr: addrs[0], addr2: addrs[1], name: s.name}
	defer func() {
		for _, c := range e.conns {
			c.c.Close()
		}
	}()
	s.run(e)
	return e.lines
}

func TestDiff(t *testing.T) {
	testutil.Need(t, "mosquitto")
	seen := map[string]bool{}
	for _, s := range scenarios {
		if seen[s.name] {
			t.Fatalf("scenario %s is defined twice", s.name)
		}
		seen[s.name] = true
	}
	for name := range allowed {
		if !seen[name] {
			t.Errorf("allow-list names scenario %s, which does not exist", name)
		}
	}
	if len(scenarios) < 60 {
		t.Errorf("%d scenarios; the harness promises at least 60", len(scenarios))
	}
	for _, p := range profiles {
		t.Run(p.name, func(t *testing.T) {
			var mosq, ours [2]string
			mosq[0], mosq[1] = startMosquitto(t, p)
			ours[0], ours[1] = startMqtls(t, p)
			for _, s := range scenarios {
				if s.profile != p.name && !(s.profile == "" && p.name == "default") {
					continue
				}
				t.Run(s.name, func(t *testing.T) {
					want := play(t, "mosquitto", mosq, s)
					got := play(t, "mqtls", ours, s)
					check(t, s.name, want, got)
				})
			}
		})
	}
}

func check(t *testing.T, name string, mosq, ours []string) {
	t.Helper()
	a, ok := allowed[name]
	if !ok {
		if !equal(mosq, ours) {
			t.Errorf("mqtls answers differently from mosquitto\n%s", diff(mosq, ours))
			t.Logf("transcripts, for an allow-list entry:\nmosquitto: %s\nmqtls: %s", goList(mosq), goList(ours))
		}
		return
	}
	if equal(mosq, ours) {
		t.Errorf("allowed difference (%s) is gone: both answer\n  %s\nremove the entry", a.why, strings.Join(ours, "\n  "))
		return
	}
	if !equal(mosq, a.mosquitto) {
		t.Errorf("mosquitto's answer is not the one the allow-list records\n%s", diff(a.mosquitto, mosq))
	}
	if !equal(ours, a.mqtls) {
		t.Errorf("mqtls's answer is not the one the allow-list records\n%s", diff(a.mqtls, ours))
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func diff(want, got []string) string {
	var b strings.Builder
	n := max(len(want), len(got))
	for i := range n {
		var w, g string
		if i < len(want) {
			w = want[i]
		}
		if i < len(got) {
			g = got[i]
		}
		mark := " "
		if w != g {
			mark = "!"
		}
		fmt.Fprintf(&b, "%s mosquitto: %-60s | mqtls: %s\n", mark, w, g)
	}
	return b.String()
}

func goList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = fmt.Sprintf("%q", s)
	}
	return "[]string{" + strings.Join(q, ", ") + "}"
}
