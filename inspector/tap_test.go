package inspector

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// allowAll lets every client connect and publish: these tests are about the
// tap, not about access control.
type allowAll struct{ mqtt.HookBase }

func (allowAll) ID() string { return "allow-all" }
func (allowAll) Provides(b byte) bool {
	return b == mqtt.OnConnectAuthenticate || b == mqtt.OnACLCheck
}
func (allowAll) OnConnectAuthenticate(*mqtt.Client, packets.Packet) bool { return true }
func (allowAll) OnACLCheck(*mqtt.Client, string, bool) bool              { return true }

// newServer is an in-process mochi server with the tap and no listeners:
// messages are injected as if a client had sent them.
func newServer(t testing.TB, opts Options) (*mqtt.Server, *Inspector) {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err := srv.AddHook(new(allowAll), nil); err != nil {
		t.Fatal(err)
	}
	insp, err := New(srv, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.AddHook(insp.Hook(), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv, insp
}

// device is a connected-looking client that publishes through the server.
func device(srv *mqtt.Server, id, user string) *mqtt.Client {
	cl := srv.NewClient(nil, "test", id, false)
	cl.Properties.Username = []byte(user)
	cl.Properties.ProtocolVersion = 5
	cl.State.Inflight.ResetReceiveQuota(1 << 20) // CONNECT would have set it
	return cl
}

func publish(t testing.TB, srv *mqtt.Server, cl *mqtt.Client, name string, payload []byte, qos byte, retain bool, props packets.Properties) {
	t.Helper()
	pk := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: qos, Retain: retain},
		TopicName:   name, Payload: payload, Properties: props,
	}
	if qos > 0 {
		pk.PacketID = 1
	}
	if err := srv.InjectPacket(cl, pk); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
}

func snapshot(t testing.TB, insp *Inspector, name string) summary {
	t.Helper()
	st := insp.store.lookup(name)
	if st == nil {
		t.Fatalf("topic %s not held", name)
	}
	return insp.store.summary(st, time.Now().Unix())
}

func TestTapBoundsTopicCount(t *testing.T) {
	srv, insp := newServer(t, Options{MaxTopics: 10})
	cl := device(srv, "dev1", "")
	for n := range 25 {
		publish(t, srv, cl, fmt.Sprintf("bound/%02d", n), []byte("x"), 0, false, packets.Properties{})
		if got := insp.Topics(); got > 10 {
			t.Fatalf("after %d topics the tap holds %d, want at most 10", n+1, got)
		}
	}
	if got := insp.Topics(); got != 10 {
		t.Errorf("topics held = %d, want 10", got)
	}
	if got := insp.store.evicted.Load(); got != 15 {
		t.Errorf("evicted = %d, want 15", got)
	}
	if insp.store.lookup("bound/24") == nil {
		t.Error("the newest topic was evicted instead of an older one")
	}
	var c cursor
	f := insp.frame(&c, identity{local: true}, search{}, 100)
	if len(f.Topics) != 10 {
		t.Errorf("a fresh frame lists %d topics, want 10", len(f.Topics))
	}
	// A page that saw the evicted topics is told to drop them.
	gone, ok := insp.store.gone.since(0)
	if !ok || len(gone) != 15 {
		t.Errorf("gone since 0 = %d names (ok %v), want 15", len(gone), ok)
	}
}

func TestTapShowsTruncation(t *testing.T) {
	srv, insp := newServer(t, Options{PayloadBytes: 16})
	cl := device(srv, "dev1", "")
	big := bytes.Repeat([]byte("0123456789"), 10)
	publish(t, srv, cl, "big", big, 0, false, packets.Properties{})
	s := snapshot(t, insp, "big")
	if !s.Truncated || s.Size != 100 {
		t.Errorf("summary: truncated %v size %d, want true 100", s.Truncated, s.Size)
	}
	st := insp.store.lookup("big")
	if got := len(st.last().Payload); got != 16 {
		t.Errorf("stored %d bytes, want 16", got)
	}
	publish(t, srv, cl, "big", []byte("small"), 0, false, packets.Properties{})
	if s := snapshot(t, insp, "big"); s.Truncated || s.Size != 5 || s.Preview != "small" {
		t.Errorf("after a small payload: %+v", s)
	}
}

func TestTapCountsRatesAndPublisher(t *testing.T) {
	srv, insp := newServer(t, Options{})
	cl := device(srv, "sensor-7", "DSN000007")
	props := packets.Properties{
		ContentType: "application/json", ResponseTopic: "reply/here",
		User: []packets.UserProperty{{Key: "site", Val: "lab"}}, PayloadFormat: 1, PayloadFormatFlag: true,
	}
	for n := range 30 {
		publish(t, srv, cl, "devices/7/telemetry", fmt.Appendf(nil, `{"temp":%d,"env":{"hum":40}}`, n), 1, false, props)
	}
	s := snapshot(t, insp, "devices/7/telemetry")
	if s.Count != 30 || s.QoS != 1 {
		t.Errorf("count %d qos %d, want 30 1", s.Count, s.QoS)
	}
	if s.Rate10 != 3 || s.Rate60 != 0.5 {
		t.Errorf("rates %v/s (10 s) %v/s (1 min), want 3 and 0.5", s.Rate10, s.Rate60)
	}
	st := insp.store.lookup("devices/7/telemetry")
	st.mu.Lock()
	m := *st.last()
	fields := st.hist.fields
	st.mu.Unlock()
	if m.ClientID != "sensor-7" || m.Username != "DSN000007" {
		t.Errorf("publisher %q user %q", m.ClientID, m.Username)
	}
	if m.Props.ContentType != "application/json" || m.Props.ResponseTopic != "reply/here" ||
		len(m.Props.User) != 1 || m.Props.User[0].Val != "lab" || m.Props.PayloadFormat == nil {
		t.Errorf("properties not kept: %+v", m.Props)
	}
	if strings.Join(fields, ",") != "temp,env.hum" { // payload order
		t.Errorf("numeric fields %q, want temp,env.hum", fields)
	}
	if got := insp.tap.in[1].Load(); got != 30 {
		t.Errorf("messages in at QoS 1 = %d, want 30", got)
	}
}

func TestTapRetainedFlag(t *testing.T) {
	srv, insp := newServer(t, Options{})
	cl := device(srv, "dev1", "")
	publish(t, srv, cl, "state/door", []byte("open"), 0, true, packets.Properties{})
	if s := snapshot(t, insp, "state/door"); !s.Retained || !s.Retain {
		t.Errorf("retained publish: %+v", s)
	}
	publish(t, srv, cl, "state/door", []byte("closing"), 0, false, packets.Properties{})
	if s := snapshot(t, insp, "state/door"); !s.Retained || s.Retain {
		t.Errorf("a plain publish must not drop the retained flag: %+v", s)
	}
	publish(t, srv, cl, "state/door", nil, 0, true, packets.Properties{})
	if s := snapshot(t, insp, "state/door"); s.Retained {
		t.Errorf("an empty retained publish clears it: %+v", s)
	}
}

func TestTapSeedsRetainedAtStart(t *testing.T) {
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	srv.AddHook(new(allowAll), nil)
	srv.Topics.RetainMessage(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true},
		TopicName:   "restored/x", Payload: []byte("42"), Created: time.Now().Unix(),
	})
	insp, err := New(srv, nil, Options{})
	if err != nil {
		t.Fatal(err)
	}
	srv.AddHook(insp.Hook(), nil)
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	if s := snapshot(t, insp, "restored/x"); !s.Retained || s.Preview != "42" {
		t.Errorf("restored retained message: %+v", s)
	}
}

func TestRateWindow(t *testing.T) {
	var w rateWindow
	for s := int64(1000); s < 1060; s++ { // one message a second for a minute
		w.add(s)
	}
	if r10, r60 := w.rates(1059); r10 != 1 || r60 < 0.8 || r60 > 1 {
		t.Errorf("steady 1/s: rates %v %v", r10, r60)
	}
	if r10, _ := w.rates(1075); r10 != 0 {
		t.Errorf("15 s of silence: 10 s rate %v, want 0", r10)
	}
	if r10, r60 := w.rates(1200); r10 != 0 || r60 != 0 {
		t.Errorf("long silence: %v %v", r10, r60)
	}
	w.add(1200)
	w.add(1200)
	if r10, _ := w.rates(1200); r10 != 0.2 {
		t.Errorf("after silence, 2 messages: %v, want 0.2", r10)
	}
}

func TestHistoryBounded(t *testing.T) {
	var h history
	for n := range chartSamples + 20 {
		h.record(fmt.Appendf(nil, `{"a":%d,"b":{"c":true},"s":"x","l":[1,2]}`, n), int64(n)*sampleEvery)
	}
	s := h.samples()
	if len(s) != chartSamples {
		t.Fatalf("history holds %d samples, want %d", len(s), chartSamples)
	}
	if s[0].Time != 20*sampleEvery || *s[chartSamples-1].Values[0] != chartSamples+19 {
		t.Errorf("ring order wrong: first t=%d last a=%v", s[0].Time, *s[chartSamples-1].Values[0])
	}
	if got := strings.Join(h.fields, ","); got != "a,b.c,l.0,l.1" {
		t.Errorf("fields %q", got)
	}
	h.trim()
	if s := h.samples(); len(s) != chartSamples/2 || *s[len(s)-1].Values[0] != chartSamples+19 {
		t.Errorf("trimmed to %d samples, want the newest %d", len(s), chartSamples/2)
	}
	h.record([]byte("12.5"), 1e7)
	if len(h.fields) != 5 || h.fields[4] != "" {
		t.Errorf("plain number field: %q", h.fields)
	}
	for n := range 20 { // more than maxFields distinct fields: capped
		h.record(fmt.Appendf(nil, `{"f%d":1}`, n), 2e7+int64(n)*sampleEvery)
	}
	if len(h.fields) != maxFields {
		t.Errorf("fields grew to %d, cap is %d", len(h.fields), maxFields)
	}
	var sec history
	sec.record([]byte("1"), 1000)
	sec.record([]byte("2"), 1000+parseEvery/2) // too soon: not parsed
	sec.record([]byte("3"), 1000+parseEvery)   // the same second: replaces
	sec.record([]byte("4"), 2000)
	if got := sec.samples(); len(got) != 2 || *got[0].Values[0] != 3 || *got[1].Values[0] != 4 {
		t.Errorf("one sample a second, the last parsed wins: %d samples", len(got))
	}
	var order history
	order.record([]byte(`{"temp":21.5,"env":{"co2":400},"axes":[1,2]}`), 1000)
	if got := strings.Join(order.fields, ","); got != "temp,env.co2,axes.0,axes.1" {
		t.Errorf("fields in payload order: %q", got)
	}
}

// TestTapKeepsMessageHistory: a topic keeps its last History messages,
// each with its number, time, QoS, retain flag, size and publisher.
func TestTapKeepsMessageHistory(t *testing.T) {
	srv, insp := newServer(t, Options{History: 100})
	cl := device(srv, "sensor-1", "DSN000001")
	for n := 1; n <= 150; n++ {
		publish(t, srv, cl, "h/t", fmt.Appendf(nil, "%d", n), byte(n%2), n == 150, packets.Properties{})
	}
	st := insp.store.lookup("h/t")
	st.mu.Lock()
	defer st.mu.Unlock()
	if len(st.msgs) != 100 {
		t.Fatalf("holds %d messages, want 100", len(st.msgs))
	}
	for k := range 100 {
		m := st.back(k)
		want := uint64(150 - k)
		if m.N != want || string(m.Payload) != fmt.Sprint(want) || m.QoS != byte(want%2) || m.ClientID != "sensor-1" || m.Username != "DSN000001" {
			t.Fatalf("message %d back: %+v, want number %d", k, m, want)
		}
	}
	if !st.last().Retain || st.back(1).Retain {
		t.Error("the retain flag is not kept per message")
	}
	if st.find(50) != nil || st.find(51) == nil {
		t.Error("find: message 50 is gone, 51 is held")
	}
}

// TestHistoryWithinByteBound: histories share MaxBytes with the topics: at
// the bound the least recently updated histories are halved, every topic
// keeps its last two messages, and the store's count of bytes is exact.
func TestHistoryWithinByteBound(t *testing.T) {
	srv, insp := newServer(t, Options{MaxBytes: 1 << 20, History: 100, PayloadBytes: 1024})
	cl := device(srv, "filler", "")
	payload := bytes.Repeat([]byte("x"), 1000)
	for n := range 4000 {
		publish(t, srv, cl, fmt.Sprintf("t/%d", n%80), payload, 0, false, packets.Properties{})
	}
	s := insp.store
	var sum int64
	held := 0
	for i := range s.shards {
		for _, st := range s.shards[i].m {
			st.mu.Lock()
			c := st.charged
			if st.account() != (costChange{}) {
				t.Errorf("%s: its charge was stale", st.name)
			}
			if len(st.msgs) < 2 {
				t.Errorf("%s keeps %d messages, want at least its last two", st.name, len(st.msgs))
			}
			held += len(st.msgs)
			st.mu.Unlock()
			sum += c
		}
	}
	if got := s.bytes.Load(); got != sum || got > s.maxBytes {
		t.Errorf("the store counts %d bytes, its topics %d, the bound %d", got, sum, s.maxBytes)
	}
	if insp.Topics() != 80 {
		t.Errorf("holds %d topics, want all 80: histories give way before topics", insp.Topics())
	}
	if held <= 160 || held >= 4000 {
		t.Errorf("holds %d messages in all, want between the last two of each and all", held)
	}
	t.Logf("80 topics, 1 KB payloads, 1 MiB bound: %d messages held, %d bytes counted", held, s.bytes.Load())
}

// TestTrimFindsEveryHistory: over the bound, a history is trimmed, wherever
// its topic is, before any topic is evicted. The two topics here share one
// of the store's 64 shards; a search of a few shards from a turning start
// missed theirs most of the time and evicted one (TestHistoryWithinByteBound
// lost a topic's history so about once in twenty runs).
func TestTrimFindsEveryHistory(t *testing.T) {
	srv, insp := newServer(t, Options{MaxBytes: 256 << 10, History: 100, PayloadBytes: 1024})
	s := insp.store
	var names []string
	for n := 0; len(names) < 2; n++ {
		name := fmt.Sprintf("h/%d", n)
		if len(names) == 0 || s.shardOf(name) == s.shardOf(names[0]) {
			names = append(names, name)
		}
	}
	cl := device(srv, "filler", "")
	payload := bytes.Repeat([]byte("x"), 1000)
	for n := range 2000 {
		publish(t, srv, cl, names[n%2], payload, 0, false, packets.Properties{})
		if got := s.evicted.Load(); got != 0 {
			t.Fatalf("after %d messages %d topics were evicted while their shard held histories to trim", n+1, got)
		}
	}
	for _, name := range names {
		st := s.lookup(name)
		st.mu.Lock()
		held := len(st.msgs)
		st.mu.Unlock()
		if held < 2 || held > 100 {
			t.Errorf("%s holds %d messages, want between its last two and its history of 100", name, held)
		}
	}
	if got := s.bytes.Load(); got > s.maxBytes {
		t.Errorf("the store counts %d bytes, over its bound %d", got, s.maxBytes)
	}
}

func TestPreview(t *testing.T) {
	if p, bin := preview([]byte("hello")); p != "hello" || bin {
		t.Errorf("text: %q %v", p, bin)
	}
	if p, bin := preview([]byte{0xff, 0xd8, 0xff, 0x00}); p != "ff d8 ff 00" || !bin {
		t.Errorf("binary: %q %v", p, bin)
	}
	long := strings.Repeat("é", 100)
	if p, _ := preview([]byte(long)); len(p) > previewBytes || !strings.HasPrefix(long, p) {
		t.Errorf("a cut preview must end on a rune boundary: %q", p)
	}
}

func TestConnackReason(t *testing.T) {
	for _, c := range []struct {
		code, version byte
		want          string
	}{
		{0, 4, ""}, {0, 5, ""}, {0x86, 5, "bad_credentials"}, {0x87, 5, "not_authorized"},
		{5, 4, "not_authorized"}, {4, 4, "bad_credentials"}, {0x8A, 5, "banned"}, {0x97, 5, "code_151"},
	} {
		if got := connackReason(c.code, c.version); got != c.want {
			t.Errorf("connackReason(%#x, v%d) = %q, want %q", c.code, c.version, got, c.want)
		}
	}
}

func TestHistoryValuesPrintShort(t *testing.T) {
	var h history
	h.record([]byte(`{"temp":24.2}`), 1000)
	if v := *h.samples()[0].Values[0]; v != 24.2 {
		t.Errorf("24.2 came back as %v", v)
	}
}

func TestTapCountsRefusalsOnTheWire(t *testing.T) {
	_, insp := newServer(t, Options{})
	h := insp.tap
	v5 := &mqtt.Client{Properties: mqtt.ClientProperties{ProtocolVersion: 5}}
	v3 := &mqtt.Client{Properties: mqtt.ClientProperties{ProtocolVersion: 4}}
	h.OnPacketSent(v3, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Suback}, ReasonCodes: []byte{0x80, 0x00}}, nil)
	h.OnPacketSent(v5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Suback}, ReasonCodes: []byte{0x87, 0x01, 0x87}}, nil)
	h.OnPacketSent(v5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ReasonCode: 0x87}, nil)
	h.OnPacketSent(v5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ReasonCode: 0x00}, nil)
	h.OnPacketSent(v5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: 0x86}, nil)
	h.OnPacketSent(v3, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Connack}, ReasonCode: 0}, nil)
	h.OnPacketSent(v5, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 2}}, nil)
	if got := h.aclDenied[subscribeAccess].Load(); got != 3 {
		t.Errorf("subscribe denials %d, want 3", got)
	}
	if got := h.aclDenied[publishAccess].Load(); got != 1 {
		t.Errorf("publish denials %d, want 1", got)
	}
	n := 0
	h.authFailed.Range(func(k, v any) bool {
		n++
		if k != "bad_credentials" || v.(*atomic.Uint64).Load() != 1 {
			t.Errorf("auth failure %v = %d", k, v.(*atomic.Uint64).Load())
		}
		return true
	})
	if n != 1 || h.out[2].Load() != 1 {
		t.Errorf("auth failure reasons %d, QoS 2 deliveries %d", n, h.out[2].Load())
	}
}

func TestFrameCursor(t *testing.T) {
	srv, insp := newServer(t, Options{})
	cl := device(srv, "dev1", "")
	names := func(f frame) string {
		var n []string
		for _, s := range f.Topics {
			n = append(n, s.Name)
		}
		slices.Sort(n)
		return strings.Join(n, ",")
	}
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		publish(t, srv, cl, "cur/"+n, []byte("1"), 0, false, packets.Properties{})
	}
	var c cursor
	var seen []string
	for k := 0; k < 3; k++ { // 5 topics, 2 a frame
		f := insp.frame(&c, identity{local: true}, search{filter: "cur/#"}, 2)
		if k == 0 != f.Reset {
			t.Errorf("frame %d: reset %v", k, f.Reset)
		}
		if f.More != (k < 2) {
			t.Errorf("frame %d: more %v", k, f.More)
		}
		seen = append(seen, names(f))
	}
	if got := strings.Join(seen, "|"); got != "cur/a,cur/b|cur/c,cur/d|cur/e" {
		t.Errorf("paged frames %q", got)
	}
	if f := insp.frame(&c, identity{local: true}, search{filter: "cur/#"}, 2); len(f.Topics) != 0 {
		t.Errorf("nothing changed, yet a frame carries %q", names(f))
	}
	publish(t, srv, cl, "cur/b", []byte("2"), 0, false, packets.Properties{})
	if f := insp.frame(&c, identity{local: true}, search{filter: "cur/#"}, 2); names(f) != "cur/b" {
		t.Errorf("after one change: %q", names(f))
	}
	// A publisher that took its number before the last frame began but
	// stored it after that frame's scan is still sent by the next frame.
	late := insp.store.get("cur/late")
	late.seq.Store(c.top)
	if f := insp.frame(&c, identity{local: true}, search{filter: "cur/#"}, 2); names(f) != "cur/late" {
		t.Errorf("a late store was lost: %q", names(f))
	}
	if f := insp.frame(&c, identity{local: true}, search{filter: "cur/#"}, 2); len(f.Topics) != 0 {
		t.Errorf("sent twice: %q", names(f))
	}
}
