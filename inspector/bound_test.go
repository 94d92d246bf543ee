package inspector

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
)

// newBoundInspector is a tap without a broker around it.
func newBoundInspector(t *testing.T, opts Options) *Inspector {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	insp, err := New(srv, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	return insp
}

// TestCursorHoldsOnlyHeldTopics: a page's stream that searches payloads
// while new topics with long names keep evicting old ones remembers only
// the topics the store still holds, so the names it keeps are within the
// store's byte bound; before, every topic it had shown stayed in its
// cursor after its eviction.
func TestCursorHoldsOnlyHeldTopics(t *testing.T) {
	const maxTopics = 50
	insp := newBoundInspector(t, Options{MaxTopics: maxTopics})
	cl := device(insp.srv, "churn", "DSN000001")
	q, err := parseSearch("payload:online", false)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 1000)
	var c cursor
	shown := 0
	for round := range 100 {
		for k := range 20 {
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
				TopicName: fmt.Sprintf("fleet/%s/%d/%d", long, round, k), Payload: []byte(`{"state":"online"}`)}
			insp.tap.record(cl, pk, timeAt(round))
		}
		f := insp.frame(&c, identity{local: true}, q, maxFrameTopics)
		if f.Reset && round > 0 {
			t.Fatalf("round %d: the cursor started over: the test no longer shows what the cursor keeps", round)
		}
		shown += len(f.Topics)
		if len(c.sent) > maxTopics || len(c.shown) > maxTopics {
			t.Fatalf("round %d: the cursor remembers %d sent and %d shown topics, the store holds at most %d",
				round, len(c.sent), len(c.shown), maxTopics)
		}
	}
	// eviction samples a few topics, so some go before a frame shows them
	if shown < 1000 {
		t.Errorf("the stream showed %d of the 2000 topics", shown)
	}
	for name := range c.shown {
		if insp.store.lookup(name) == nil {
			t.Errorf("the cursor keeps %.20s…, which the store no longer holds", name)
		}
	}
}

// readAll lets every viewer read every topic.
type readAll struct{}

func (readAll) Login(string, string, string) error               { return nil }
func (readAll) Identity(string, string) error                    { return nil }
func (readAll) Allow(string, string, string, dynsec.Access) bool { return true }

// TestSetLintWithinBound: the set-wide findings cached for each viewer
// copy topic names (the topic's and the ones they quote) and outlive the
// topics; with 600 case variants of 1 KB names, nine viewers' caches
// keep at most setLintBytes of heap, and each view counts what it holds
// within maxSetViewBytes. Before the bound each view held about 2.6 MB.
func TestSetLintWithinBound(t *testing.T) {
	insp := newBoundInspector(t, Options{})
	insp.authz = readAll{}
	cl := device(insp.srv, "variants", "DSN000001")
	pad := strings.Repeat("x", 1000)
	var variant string
	for k := range 600 {
		for _, first := range []string{"Dev", "dev"} {
			name := fmt.Sprintf("site/%s%04d%s/temp", first, k, pad)
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish}, TopicName: name, Payload: []byte("21.5")}
			insp.tap.record(cl, pk, timeAt(k))
			variant = name
		}
	}
	before := heap()
	viewers := []identity{{local: true}}
	for n := range maxSetViews {
		viewers = append(viewers, identity{user: fmt.Sprintf("viewer%d", n)})
	}
	for _, id := range viewers {
		insp.setFindings(id, variant)
	}
	used := heap() - before
	insp.setLint.mu.Lock()
	views, counted := len(insp.setLint.views), int64(0)
	for key, v := range insp.setLint.views {
		if v.bytes > maxSetViewBytes {
			t.Errorf("the view of %q counts %d bytes, over %d", key, v.bytes, maxSetViewBytes)
		}
		if len(v.byTopic) == 0 {
			t.Errorf("the view of %q holds no finding", key)
		}
		counted += v.bytes
	}
	insp.setLint.mu.Unlock()
	t.Logf("%d views, %d bytes counted, heap grew by %d bytes (bound %d)", views, counted, used, setLintBytes)
	if views != maxSetViews {
		t.Errorf("%d views cached, want %d", views, maxSetViews)
	}
	if used > setLintBytes {
		t.Errorf("the cached set-wide findings hold %d bytes of heap, over the bound of %d", used, setLintBytes)
	}
	if used > counted+counted/4 {
		t.Errorf("the views count %d bytes and hold %d: the count misses some", counted, used)
	}
	runtime.KeepAlive(insp)
}

func TestFirstNames(t *testing.T) {
	names := []string{"aaaa", "bbbb", "cccc"}
	for _, c := range []struct {
		n    int
		size int64
		want int
	}{{3, 100, 3}, {2, 100, 2}, {3, 8, 2}, {3, 7, 1}, {3, 3, 0}, {0, 100, 0}} {
		if got := firstNames(names, c.n, c.size); len(got) != c.want {
			t.Errorf("firstNames(%d names, %d bytes) = %v, want %d names", c.n, c.size, got, c.want)
		}
	}
}
