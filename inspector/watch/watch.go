// Package watch is the terminal view of "mqtls watch": a bounded tree of the
// topics seen by a subscription, with counts, rates and last payloads,
// rendered as plain lines that a terminal redraws in place.
package watch

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"mqtls/topic"
)

// Message is one received message.
type Message struct {
	Topic   string
	Payload []byte
	QoS     byte
	Retain  bool
	Time    time.Time
}

// DefaultMaxTopics bounds the tree.
const DefaultMaxTopics = 10000

// maxPayload is how much of each payload is kept: one line's worth.
const maxPayload = 256

type entry struct {
	count    uint64
	size     int
	payload  []byte
	qos      byte
	retained bool
	last     time.Time
	recent   []time.Time // arrival times within the last 10 s, for the rate
}

// Tree holds what a subscription has seen. It is safe for concurrent use.
type Tree struct {
	mu      sync.Mutex
	max     int
	topics  map[string]*entry
	total   uint64
	dropped uint64 // messages on topics beyond max
}

// New returns an empty tree that keeps at most max topics (0: the default).
func New(max int) *Tree {
	if max <= 0 {
		max = DefaultMaxTopics
	}
	return &Tree{max: max, topics: make(map[string]*entry)}
}

// rateWindow is the span over which the rate is counted.
const rateWindow = 10 * time.Second

// maxRecent caps the arrival times kept per topic; beyond it the rate is
// estimated from the oldest one kept.
const maxRecent = 64

// Add records a message. Topics beyond the tree's bound are counted, not kept.
func (t *Tree) Add(m Message) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.total++
	e := t.topics[m.Topic]
	if e == nil {
		if len(t.topics) >= t.max {
			t.dropped++
			return
		}
		e = &entry{}
		t.topics[m.Topic] = e
	}
	e.count++
	e.size = len(m.Payload)
	e.payload = append(e.payload[:0], m.Payload[:min(len(m.Payload), maxPayload)]...)
	e.qos = m.QoS
	if m.Retain || e.count == 1 {
		e.retained = m.Retain && len(m.Payload) > 0
	}
	e.last = m.Time
	if m.Retain {
		// a retained message replayed at subscribe time is state, not traffic
		return
	}
	cut := 0
	for cut < len(e.recent) && m.Time.Sub(e.recent[cut]) > rateWindow {
		cut++
	}
	e.recent = append(e.recent[cut:], m.Time)
	if len(e.recent) > maxRecent {
		e.recent = e.recent[len(e.recent)-maxRecent:]
	}
}

// Len is the number of topics held.
func (t *Tree) Len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.topics)
}

// View says how to render.
type View struct {
	// Width and Height of the screen; 0 means no limit.
	Width, Height int
	// Now is the time rates and ages are computed at.
	Now time.Time
	// Header is the first line.
	Header string
}

type node struct {
	seg  string
	kids map[string]*node
	name string // the topic ending here, or ""
}

// row is one line of the tree.
type row struct {
	path  string // the node's topic path
	depth int
	text  string
	kids  bool // the node has children
}

// matcher is the view's filter: an MQTT filter when it has a wildcard,
// else a word of the topic name in any case; "" keeps every topic.
func matcher(f string) func(string) bool {
	switch {
	case f == "":
		return func(string) bool { return true }
	case strings.ContainsAny(f, "+#") && topic.ValidFilter(f) == nil:
		return func(name string) bool { return topic.Match(f, name) }
	}
	lower := strings.ToLower(f)
	return func(name string) bool { return strings.Contains(strings.ToLower(name), lower) }
}

// rows lays the tree out: the topics that filter keeps and their parents,
// children sorted by name, nothing below a collapsed path. It returns the
// summary line too.
func (t *Tree) rows(v View, filter string, collapsed map[string]bool) (string, []row) {
	keep := matcher(filter)
	t.mu.Lock()
	defer t.mu.Unlock()
	root := &node{kids: map[string]*node{}}
	shown := 0
	for name := range t.topics {
		if !keep(name) {
			continue
		}
		shown++
		n := root
		for _, seg := range strings.Split(name, "/") {
			k := n.kids[seg]
			if k == nil {
				k = &node{seg: seg, kids: map[string]*node{}}
				n.kids[seg] = k
			}
			n = k
		}
		n.name = name
	}
	var rows []row
	var walk func(n *node, path string, depth int)
	walk = func(n *node, path string, depth int) {
		keys := make([]string, 0, len(n.kids))
		for k := range n.kids {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			c := n.kids[k]
			p := k
			if depth > 0 {
				p = path + "/" + k
			}
			rows = append(rows, row{path: p, depth: depth, text: t.line(c, depth, v), kids: len(c.kids) > 0})
			if !collapsed[p] {
				walk(c, p, depth+1)
			}
		}
	}
	walk(root, "", 0)
	summary := fmt.Sprintf("%d topics, %d messages", len(t.topics), t.total)
	if filter != "" {
		summary += fmt.Sprintf(", %d matching %q", shown, filter)
	}
	if t.dropped > 0 {
		summary += fmt.Sprintf(", %d messages on topics beyond the limit of %d not shown", t.dropped, t.max)
	}
	return summary, rows
}

// Render writes the tree, one line per level, children sorted by name.
func (t *Tree) Render(w io.Writer, v View) error {
	summary, rows := t.rows(v, "", nil)
	lines := make([]string, len(rows))
	for i, r := range rows {
		lines[i] = r.text
	}
	out := make([]string, 0, len(lines)+2)
	if v.Header != "" {
		out = append(out, v.Header)
	}
	out = append(out, summary)
	if len(lines) == 0 {
		lines = []string{"(no messages yet)"}
	}
	if v.Height > 0 && len(out)+len(lines) > v.Height {
		keep := max(v.Height-len(out)-1, 0)
		more := len(lines) - keep
		lines = append(lines[:keep], fmt.Sprintf("… %d more lines: narrow the view with -t", more))
	}
	out = append(out, lines...)
	for _, l := range out {
		if v.Width > 0 {
			l = clip(l, v.Width)
		}
		if _, err := io.WriteString(w, l+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// topicJSON is one topic of the --once --json snapshot.
type topicJSON struct {
	Topic    string    `json:"topic"`
	Count    uint64    `json:"count"`
	Size     int       `json:"size"`
	QoS      byte      `json:"qos"`
	Retained bool      `json:"retained"`
	Rate     float64   `json:"ratePerSecond"`
	Payload  string    `json:"payload"` // UTF-8 text, or hex when binary; at most 256 bytes of it
	Binary   bool      `json:"binary,omitempty"`
	Cut      bool      `json:"cut,omitempty"` // the payload is longer than what is kept
	Last     time.Time `json:"last"`
}

// JSON writes the tree as one JSON document for scripts: the topics in
// name order, the messages received and those on topics beyond the limit.
func (t *Tree) JSON(w io.Writer, now time.Time) error {
	t.mu.Lock()
	doc := struct {
		Topics   []topicJSON `json:"topics"`
		Messages uint64      `json:"messages"`
		Dropped  uint64      `json:"droppedMessages"`
	}{Topics: []topicJSON{}, Messages: t.total, Dropped: t.dropped}
	for name, e := range t.topics {
		j := topicJSON{Topic: name, Count: e.count, Size: e.size, QoS: e.qos, Retained: e.retained,
			Rate: e.rate(now), Cut: e.size > len(e.payload), Last: e.last}
		if utf8.Valid(e.payload) {
			j.Payload = string(e.payload)
		} else {
			j.Payload, j.Binary = hex.EncodeToString(e.payload), true
		}
		doc.Topics = append(doc.Topics, j)
	}
	t.mu.Unlock()
	slices.SortFunc(doc.Topics, func(a, b topicJSON) int { return strings.Compare(a.Topic, b.Topic) })
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(doc)
}

// line formats one node: "  seg  count  rate  R q1  payload".
func (t *Tree) line(n *node, depth int, v View) string {
	label := strings.Repeat("  ", depth) + n.seg
	if n.seg == "" {
		label = strings.Repeat("  ", depth) + "(empty)"
	}
	e := t.topics[n.name]
	if n.name == "" || e == nil {
		return label
	}
	flags := "  "
	if e.retained {
		flags = "R "
	}
	rate := ""
	if r := e.rate(v.Now); r >= 0.05 {
		rate = fmt.Sprintf("%.1f/s", r)
	}
	p := preview(e.payload)
	if e.size > len(e.payload) || e.size > 0 && len(p) < len(e.payload) {
		p += fmt.Sprintf(" … (%d bytes)", e.size)
	}
	if e.size == 0 {
		p = "(empty)"
	}
	return fmt.Sprintf("%-32s %6d %7s %sq%d  %s", label, e.count, rate, flags, e.qos, p)
}

func (e *entry) rate(now time.Time) float64 {
	n := 0
	for _, at := range e.recent {
		if now.Sub(at) <= rateWindow {
			n++
		}
	}
	return float64(n) / rateWindow.Seconds()
}

// preview is the payload on one line: text with control characters shown as
// escapes, or hex when it is not UTF-8.
func preview(p []byte) string {
	if !utf8.Valid(p) {
		// a payload cut inside a rune is still text
		if cut := trimRune(p); utf8.Valid(cut) && len(p)-len(cut) < utf8.UTFMax {
			p = cut
		} else {
			return fmt.Sprintf("% x", p[:min(len(p), 32)])
		}
	}
	var b strings.Builder
	for _, r := range string(p) {
		switch {
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\x%02x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func trimRune(p []byte) []byte {
	for i := len(p); i > 0 && i > len(p)-utf8.UTFMax; i-- {
		if utf8.Valid(p[:i]) {
			return p[:i]
		}
	}
	return p
}

// clip cuts a line to width runes.
func clip(s string, width int) string {
	if utf8.RuneCountInString(s) <= width {
		return s
	}
	r := []rune(s)
	return string(r[:max(width-1, 0)]) + "…"
}
