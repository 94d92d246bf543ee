package inspector

import (
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
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
