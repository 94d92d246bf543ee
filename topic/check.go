package topic

import (
	"fmt"
	"slices"
	"strings"
)

// node is one level of the compiled scheme: patterns are merged into a tree
// so that a check walks the topic once, without allocating.
type node struct {
	lit map[string]*node
	// any is the child for '+' and variables.
	any *node
	// end lists the entries that end here; hash those that end in '#' here.
	end, hash []int
}

func (n *node) insert(levels []string, entry int) {
	for _, l := range levels {
		switch {
		case l == "#":
			n.hash = append(n.hash, entry)
			return
		case l == "+" || strings.HasPrefix(l, "{"):
			if n.any == nil {
				n.any = &node{}
			}
			n = n.any
		default:
			if n.lit == nil {
				n.lit = map[string]*node{}
			}
			c := n.lit[l]
			if c == nil {
				c = &node{}
				n.lit[l] = c
			}
			n = c
		}
	}
	n.end = append(n.end, entry)
}

// Reason says why a publish is outside the scheme.
type Reason uint8

const (
	// NotInScheme: no pattern matches the topic.
	NotInScheme Reason = iota + 1
	// WrongQoS: a pattern matches, but not with this QoS.
	WrongQoS
	// WrongRetain: a pattern matches, but wants the other retain flag.
	WrongRetain
)

// Violation is a publish the scheme does not allow.
type Violation struct {
	Topic  string
	Reason Reason
	// Pattern is the closest pattern for WrongQoS and WrongRetain.
	Pattern string
	QoS     byte
	Retain  bool
	// Allowed is the QoS list of Pattern, for WrongQoS.
	Allowed []byte
}

func (v *Violation) Error() string {
	if v.Reason == NotInScheme {
		return fmt.Sprintf("topic %q is not in the topic scheme", v.Topic)
	}
	return fmt.Sprintf("topic %q: %s", v.Topic, v.Detail())
}

// Detail says what is wrong without naming the topic, for a log line or a
// reason string that shows the topic already.
func (v *Violation) Detail() string {
	switch v.Reason {
	case WrongQoS:
		return fmt.Sprintf("pattern %s allows QoS %s, not %d", v.Pattern, qosList(v.Allowed), v.QoS)
	case WrongRetain:
		want := "retained"
		if v.Retain {
			want = "not retained"
		}
		return fmt.Sprintf("pattern %s is published %s", v.Pattern, want)
	}
	return "no pattern of the topic scheme matches"
}

func qosList(q []byte) string {
	s := make([]string, len(q))
	for i, b := range q {
		s[i] = fmt.Sprint(b)
	}
	return strings.Join(s, " or ")
}

// CheckPublish reports whether a PUBLISH fits the scheme: some pattern
// matches the topic and allows its QoS and retain flag. It returns nil or a
// *[Violation]. Who may publish where is left to ACLs (see [Scheme.Roles]):
// a service may publish commands into any device's subtree.
//
// It is on the broker's per-message path: it walks the compiled tree once
// and allocates only to report a violation.
func (s *Scheme) CheckPublish(topic string, qos byte, retain bool) error {
	m := matcher{s: s, qos: qos, retain: retain, entry: -1, judge: true}
	m.visit(s.root, topic, false)
	switch m.best {
	case matchOK:
		return nil
	case matchNone:
		return &Violation{Topic: topic, Reason: NotInScheme, QoS: qos, Retain: retain}
	}
	e := &s.Topics[m.entry]
	v := &Violation{Topic: topic, Reason: WrongRetain, Pattern: e.Pattern, QoS: qos, Retain: retain}
	if m.best == matchQoS {
		v.Reason, v.Allowed = WrongQoS, e.QoS
	}
	return v
}

// Lookup returns the first entry (in file order) whose pattern matches the
// topic, whatever the flags.
func (s *Scheme) Lookup(topic string) (*Entry, bool) {
	m := matcher{s: s, entry: -1}
	m.visit(s.root, topic, false)
	if m.entry < 0 {
		return nil, false
	}
	return &s.Topics[m.entry], true
}

type matchResult uint8

// Ordered by how close a match came.
const (
	matchNone matchResult = iota
	matchRetain
	matchQoS
	matchOK
)

// matcher walks the tree for one topic and keeps the best entry: with
// judge, the one whose flags fit best, else the first in file order.
type matcher struct {
	s      *Scheme
	qos    byte
	retain bool
	judge  bool
	best   matchResult
	entry  int
}

func (m *matcher) found(i int) {
	r := matchOK
	if m.judge {
		e := &m.s.Topics[i]
		switch {
		case e.QoS != nil && !slices.Contains(e.QoS, m.qos):
			r = matchQoS
		case e.Retain != nil && *e.Retain != m.retain:
			r = matchRetain
		}
	}
	if r > m.best || (r == m.best && i < m.entry) {
		m.best, m.entry = r, i
	}
}

// visit finds every entry whose pattern matches topic below n; deep says n
// is not the root, where '+', variables and '#' do not match '$' topics, as
// in MQTT [MQTT-4.7.2-1].
func (m *matcher) visit(n *node, topic string, deep bool) {
	dollar := !deep && len(topic) > 0 && topic[0] == '$'
	if !dollar {
		for _, i := range n.hash {
			m.found(i)
		}
	}
	level, rest, more := strings.Cut(topic, "/")
	if c := n.lit[level]; c != nil {
		m.visitChild(c, rest, more)
	}
	if n.any != nil && level != "" && !dollar {
		m.visitChild(n.any, rest, more)
	}
}

func (m *matcher) visitChild(c *node, rest string, more bool) {
	if !more {
		// The topic ends here: entries ending here match, and so do
		// entries ending in '#' here ("a/#" matches "a").
		for _, i := range c.end {
			m.found(i)
		}
		for _, i := range c.hash {
			m.found(i)
		}
		return
	}
	m.visit(c, rest, true)
}
