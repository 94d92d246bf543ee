package inspector

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
	"mqtls/topic"
)

// TestLintFindingsInAPI: the tree's summary marks a topic by its worst
// finding, the detail carries every finding with its rule, severity and
// rationale, and /api/lint adds the rules that compare topics.
func TestLintFindingsInAPI(t *testing.T) {
	p := newPage(t, nil, Options{})
	cl := device(p.srv, "d1", "")
	for _, name := range []string{"/plant/press", "plant/line 2/temp", "plant/press", "plant/Press/x", "plant/ok"} {
		publish(t, p.srv, cl, name, []byte("1"), 0, false, packets.Properties{})
	}

	code, body := p.do("GET", "/api/topics", "", nil)
	var f frame
	if code != 200 || json.Unmarshal([]byte(body), &f) != nil {
		t.Fatalf("topics: %d %s", code, body)
	}
	marks := map[string]string{}
	for _, s := range f.Topics {
		marks[s.Name] = s.Lint
	}
	for name, want := range map[string]string{"/plant/press": "error", "plant/line 2/temp": "error", "plant/ok": "", "plant/press": ""} {
		if got, ok := marks[name]; !ok || got != want {
			t.Errorf("tree mark of %q: %q (held %v), want %q", name, got, ok, want)
		}
	}

	detail := func(name string) topicView {
		t.Helper()
		code, body := p.do("GET", "/api/topic?name="+url.QueryEscape(name), "", nil)
		var v topicView
		if code != 200 || json.Unmarshal([]byte(body), &v) != nil {
			t.Fatalf("detail of %q: %d %s", name, code, body)
		}
		return v
	}
	rule := func(fs []finding, id string) *finding {
		for k := range fs {
			if fs[k].Rule == id {
				return &fs[k]
			}
		}
		return nil
	}
	v := detail("/plant/press")
	lead := rule(v.Lint, topic.RuleLeadingSlash)
	r, _ := topic.RuleByID(topic.RuleLeadingSlash)
	if lead == nil || lead.Severity != "error" || lead.Rationale != r.Rationale || lead.Suggestion != "use 'plant/press'" {
		t.Errorf("leading slash finding: %+v in %+v", lead, v.Lint)
	}
	if f := rule(detail("plant/line 2/temp").Lint, topic.RuleWhitespace); f == nil || f.Severity != "error" {
		t.Errorf("whitespace finding missing: %+v", f)
	}
	if fs := detail("plant/ok").Lint; len(fs) != 0 {
		t.Errorf("a clean topic has findings: %+v", fs)
	}
	// "press" next to "Press" is a case variant: a set-wide rule, reported
	// on the spelling that sorts later
	if f := rule(detail("plant/press").Lint, topic.RuleCaseVariant); f == nil {
		t.Errorf("case variant missing from the detail: %+v", detail("plant/press").Lint)
	}

	code, body = p.do("GET", "/api/lint?filter="+url.QueryEscape("plant/#"), "", nil)
	var rep lintReport
	if code != 200 || json.Unmarshal([]byte(body), &rep) != nil {
		t.Fatalf("lint: %d %s", code, body)
	}
	got := map[string]bool{}
	for _, f := range rep.Findings {
		got[f.Topic+" "+f.Rule] = true
	}
	if rep.Topics != 4 || !got["plant/line 2/temp whitespace"] || !got["plant/press case-variant"] || got["/plant/press leading-slash"] {
		t.Errorf("/api/lint?filter=plant/#: %s", body)
	}
	if code, _ := p.do("GET", "/api/lint?filter=a/%23/b", "", nil); code != 400 {
		t.Errorf("a bad filter: %d, want 400", code)
	}
}

// TestBrowserLintFinding: a topic with a space and one with a leading slash
// carry a marker in the tree, and the detail panel names the rule, its
// severity and why it exists; a clean topic has neither.
func TestBrowserLintFinding(t *testing.T) {
	t.Parallel()
	p := newPage(t, nil, Options{})
	p.srv.Publish("plant/line 2", []byte("7"), false, 0)
	p.srv.Publish("/plant/oven", []byte("8"), false, 0)
	p.srv.Publish("plant/ok", []byte("9"), false, 0)
	ctx := browser(t)
	do(t, ctx, chromedp.Navigate(p.web.URL))
	pageText(t, ctx, `[data-topic="plant/line 2"] .lint-error`, "⚠")
	pageText(t, ctx, `[data-topic="/plant/oven"] .lint-error`, "⚠")
	pageText(t, ctx, `[data-topic="plant/ok"]`, "9")
	if n := eval[int](t, ctx, `document.querySelectorAll('[data-topic="plant/ok"] .lint').length`); n != 0 {
		t.Errorf("a clean topic carries %d lint markers", n)
	}
	click(t, ctx, `[data-topic="plant/line 2"]`)
	text := pageText(t, ctx, "#topic-lint", "whitespace")
	for _, want := range []string{"error", "the topic contains whitespace", "use 'plant/line-2'", "never use spaces"} {
		if !strings.Contains(text, want) {
			t.Errorf("the detail panel's lint says %q, without %q", text, want)
		}
	}
	click(t, ctx, `[data-topic="/plant/oven"]`)
	pageText(t, ctx, "#topic-lint", "leading-slash")
	click(t, ctx, `[data-topic="plant/ok"]`)
	pageText(t, ctx, "#topic-name", "plant/ok")
	testutil.WaitFor(t, 10*time.Second, "the clean topic's detail without findings", func() bool {
		return eval[string](t, ctx, `document.querySelector('#topic-name').textContent + '|' + document.querySelector('#topic-lint').textContent`) == "plant/ok|"
	})
}

// BenchmarkSetFindings is the cost of one refresh of the set-wide lint over
// a full default tap (10,000 topics); it runs at most every setLintEvery.
func BenchmarkSetFindings(b *testing.B) {
	_, insp := newServer(b, Options{})
	cl := device(insp.srv, "filler", "")
	for n := range DefaultMaxTopics {
		insp.tap.record(cl, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
			TopicName: fmt.Sprintf("site/%d/dev%d/Telemetry/%d", n%10, n%1000, n), Payload: []byte("1")}, time.Now())
	}
	b.ResetTimer()
	for range b.N {
		insp.setLint.views = nil
		insp.setFindings(identity{local: true}, "site/0/dev0/Telemetry/0")
	}
}

// BenchmarkLintOnFirstRead is the one-time cost of linting a topic the
// first time the page reads it.
func BenchmarkLintOnFirstRead(b *testing.B) {
	st := &topicState{name: "/plant/line 2//Press/telemetry/"}
	b.ReportAllocs()
	for range b.N {
		st.lint.done = false
		st.ensureLint()
	}
}
