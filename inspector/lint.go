package inspector

import (
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unsafe"

	"mqtls/topic"
)

// The page shows what `mqtls topic lint` would say of each topic. A topic is
// linted once, the first time the page or the API reads it (never on the
// publisher's path, never per message); the rules that compare topics (case
// variants, sibling depth) run over the whole set at most every
// setLintEvery, on the held topics only, so both costs are bounded by
// inspector_max_topics.

// maxFindings bounds the findings kept per topic.
const maxFindings = 8

// setLintEvery is how stale the set-wide findings may be.
const setLintEvery = 10 * time.Second

// maxSetLint bounds the topics the set-wide rules compare (about 80 ms for
// 10,000 topics on a 2-core machine, most of it topic.Lint running the
// per-topic rules again, which it does not let us skip); beyond it they run
// on the first maxSetLint names in order.
const maxSetLint = 20000

// finding is one lint finding as the page and the API show it.
type finding struct {
	Rule       string `json:"rule"`
	Severity   string `json:"severity"`
	Message    string `json:"message"`
	Suggestion string `json:"suggestion,omitempty"`
	// Rationale is the rule's one-line reason, as `mqtls topic rules` prints it.
	Rationale string `json:"rationale,omitempty"`
}

func findingOf(f topic.Finding) finding {
	v := finding{Rule: f.Rule, Severity: f.Severity.String(), Message: f.Message, Suggestion: f.Suggestion}
	if r, ok := topic.RuleByID(f.Rule); ok {
		v.Rationale = r.Rationale
	}
	return v
}

// lintState is a topic's own findings, kept under topicState.mu.
type lintState struct {
	done     bool
	findings []topic.Finding
	worst    topic.Severity
	cost     int64 // what the findings hold, in the topic's account
}

// ensureLint lints the topic once, with the flags of the message held then,
// and returns the change of what the topic counts against the store's
// bytes: the caller holds st.mu, and passes it to store.charge once it has
// let go.
func (st *topicState) ensureLint() costChange {
	if st.lint.done {
		return costChange{}
	}
	st.lint.done = true
	if brokerTopic(st.name) {
		return costChange{} // not the user's design: nothing to say
	}
	m := st.last()
	fs := topic.LintSample(topic.Sample{Topic: st.name, HasFlags: st.count > 0, QoS: m.QoS, Retain: m.Retain}, topic.Options{})
	if len(fs) > maxFindings {
		fs = fs[:maxFindings]
	}
	st.lint.findings = fs
	st.lint.worst = -1
	st.lint.cost = int64(cap(fs)) * int64(unsafe.Sizeof(topic.Finding{}))
	for _, f := range fs {
		st.lint.worst = max(st.lint.worst, f.Severity)
		st.lint.cost += heapSize(len(f.Message)) + heapSize(len(f.Suggestion))
		if unsafe.StringData(f.Topic) != unsafe.StringData(st.name) {
			st.lint.cost += heapSize(len(f.Topic))
		}
	}
	if st.dead {
		return costChange{} // evicted: it counts no more
	}
	return st.account()
}

// brokerTopic reports whether the broker owns a topic's name: $SYS and the
// $CONTROL APIs (requests and the broker's responses) are named by
// Mosquitto's conventions, not by the user, so they are not linted.
func brokerTopic(name string) bool {
	return strings.HasPrefix(name, "$SYS/") || strings.HasPrefix(name, "$CONTROL/")
}

// lintMark is the severity of the topic's worst finding, "" when clean,
// and the change of the topic's count (see ensureLint).
func (st *topicState) lintMark() (string, costChange) {
	d := st.ensureLint()
	if len(st.lint.findings) == 0 {
		return "", d
	}
	return st.lint.worst.String(), d
}

// setLint caches the findings of the rules that compare topics, one set per
// viewer: a finding quotes the other topics of its set, so a viewer's set
// is the topics it may read. At most maxSetViews viewers are cached, each
// within maxSetViewBytes: the findings copy topic names (the topic's own
// and those they quote), and a cached view outlives the topics it names,
// so it is bounded apart from the store (see setLintBytes).
type setLint struct {
	mu    sync.Mutex
	views map[string]*setView // by user; "" is the local operator
}

type setView struct {
	at      time.Time
	byTopic map[string][]topic.Finding
	bytes   int64 // what byTopic holds, counted as the heap allocates it
}

// maxSetViews bounds the viewers whose set-wide findings are cached.
const maxSetViews = 8

// maxSetViewBytes bounds what one viewer's cached findings hold; the
// findings past it are left out (the topics they would name get none).
// maxSetLintNames bounds the bytes of the names one run compares, which
// bounds what the run allocates on its way. setLintBytes is all the cache
// holds.
const (
	maxSetViewBytes = 1 << 20
	maxSetLintNames = 4 << 20
	setLintBytes    = maxSetViews * maxSetViewBytes
)

// findingSize is what a cached finding holds beside its topic's name: its
// slot in the topic's slice (room for two: each set rule reports a topic
// once) and its strings.
func findingSize(f topic.Finding) int64 {
	return int64(unsafe.Sizeof(f)) + heapSize(len(f.Message)) + heapSize(len(f.Suggestion))
}

// setRules are the rules that only Lint over a set of topics reports.
var setRules = map[string]bool{topic.RuleCaseVariant: true, topic.RuleSiblingDepth: true}

// setFindings returns the set-wide findings of one topic among those id may
// read, refreshing the cache when it is older than setLintEvery.
func (i *Inspector) setFindings(id identity, name string) []topic.Finding {
	s := &i.setLint
	s.mu.Lock()
	defer s.mu.Unlock()
	key := id.user
	if id.local {
		key = ""
	}
	v := s.views[key]
	if v == nil || time.Since(v.at) > setLintEvery {
		if s.views == nil {
			s.views = make(map[string]*setView)
		}
		if _, ok := s.views[key]; !ok && len(s.views) >= maxSetViews {
			var oldest *setView
			oldestKey := ""
			for k, old := range s.views {
				if oldest == nil || old.at.Before(oldest.at) {
					oldest, oldestKey = old, k
				}
			}
			delete(s.views, oldestKey)
		}
		var names []string
		for _, st := range i.store.changed(0, func(n string) bool { return !brokerTopic(n) && i.mayRead(id, n) }) {
			names = append(names, st.name)
		}
		slices.Sort(names) // the first spelling seen wins: make it stable
		names = firstNames(names, maxSetLint, maxSetLintNames)
		v = &setView{at: time.Now(), byTopic: make(map[string][]topic.Finding)}
		for _, f := range topic.LintTopics(names, topic.Options{}) {
			if !setRules[f.Rule] {
				continue
			}
			cost := findingSize(f)
			fs, ok := v.byTopic[f.Topic]
			if !ok {
				// the key is the finding's own copy of the name
				cost += mapEntryCost + heapSize(len(f.Topic)) + int64(unsafe.Sizeof(f))
			}
			if v.bytes+cost > maxSetViewBytes {
				continue
			}
			v.byTopic[f.Topic] = append(slices.Grow(fs, max(0, 2-len(fs))), f)
			v.bytes += cost
		}
		s.views[key] = v
	}
	return v.byTopic[name]
}

// firstNames is the longest start of names with at most n names and at
// most size bytes of them.
func firstNames(names []string, n int, size int64) []string {
	names = names[:min(len(names), n)]
	for k, name := range names {
		if size -= int64(len(name)); size < 0 {
			return names[:k]
		}
	}
	return names
}

// topicFindings is every finding of one held topic: its own, then the
// set-wide ones.
func (i *Inspector) topicFindings(id identity, st *topicState) []finding {
	st.mu.Lock()
	d := st.ensureLint()
	own := slices.Clone(st.lint.findings)
	st.mu.Unlock()
	i.store.charge(d)
	out := []finding{}
	for _, f := range append(own, i.setFindings(id, st.name)...) {
		out = append(out, findingOf(f))
	}
	return out
}

// lintReport is the answer of /api/lint.
type lintReport struct {
	Topics   int           `json:"topics"`
	Findings []topicReport `json:"findings"`
}

type topicReport struct {
	Topic string `json:"topic"`
	finding
}

// handleLint lints every held topic matching the filter, with the set-wide
// rules, in topic order.
func (i *Inspector) handleLint(w http.ResponseWriter, r *http.Request, id identity) {
	q, err := searchParam(r)
	if err != nil {
		httpError(w, http.StatusBadRequest, err.Error())
		return
	}
	held := i.store.changed(0, func(name string) bool { return q.name(name) && i.mayRead(id, name) })
	held = slices.DeleteFunc(held, func(st *topicState) bool { return !q.matches(st) })
	slices.SortFunc(held, func(a, b *topicState) int { return strings.Compare(a.name, b.name) })
	rep := lintReport{Topics: len(held), Findings: []topicReport{}}
	for _, st := range held {
		for _, f := range i.topicFindings(id, st) {
			rep.Findings = append(rep.Findings, topicReport{Topic: st.name, finding: f})
		}
	}
	writeJSON(w, rep)
}
