package topic

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Sample is one topic to lint, with the flags of a publish when they were
// seen (live from a broker, or a recorded list that has them).
type Sample struct {
	Topic string `json:"topic"`
	// HasFlags says QoS and Retain were observed; rules about flags run
	// only then.
	HasFlags bool `json:"has_flags,omitempty"`
	QoS      byte `json:"qos,omitempty"`
	Retain   bool `json:"retain,omitempty"`
}

// Options tune [Lint]. The zero value lints with the default limits and
// detects conventions by their root level (homie/, spBv1.0/, owntracks/).
type Options struct {
	// Convention, when set, is required of every topic: homie, sparkplug,
	// owntracks or smarthome.
	Convention string
	// MaxLength and MaxDepth bound the too-long and too-deep rules; 0
	// means [DefaultMaxLength] and [DefaultMaxDepth].
	MaxLength int
	MaxDepth  int
	// Scheme, when set, is the topic scheme every topic must fit.
	Scheme *Scheme
}

// Lint checks every sample on its own, then the set as a whole (case
// variants, sibling depth). Findings come in the order of the samples; a
// topic seen twice with the same finding reports it once.
func Lint(samples []Sample, opt Options) []Finding {
	var out []Finding
	seen := make(map[Finding]bool)
	add := func(fs []Finding) {
		for _, f := range fs {
			if !seen[f] {
				seen[f] = true
				out = append(out, f)
			}
		}
	}
	var names []string
	for _, s := range samples {
		add(LintSample(s, opt))
		names = append(names, s.Topic)
	}
	add(lintSet(names))
	return out
}

// LintTopics lints topic names without flags.
func LintTopics(topics []string, opt Options) []Finding {
	samples := make([]Sample, len(topics))
	for i, t := range topics {
		samples[i] = Sample{Topic: t}
	}
	return Lint(samples, opt)
}

// LintSample runs the rules that need only this one topic (and its flags).
// The inspector calls it per topic.
func LintSample(s Sample, opt Options) []Finding {
	t := s.Topic
	var out []Finding
	add := func(rule, msg, suggestion string) {
		out = append(out, newFinding(t, rule, msg, suggestion))
	}
	if t == "" {
		add(RuleEmpty, "the topic is empty", "name what the message is about, e.g. devices/<id>/status")
		return out
	}
	if !utf8.ValidString(t) {
		add(RuleUTF8, "the topic is not valid UTF-8", "")
		return out
	}
	if len(t) > MaxLen {
		add(RuleMaxLen, fmt.Sprintf("the topic is %d bytes, more than MQTT can carry", len(t)), "")
	}
	if strings.IndexByte(t, 0) >= 0 {
		add(RuleNUL, "the topic contains a NUL character", "remove it")
	}
	if strings.ContainsAny(t, "+#") {
		add(RuleWildcard, "a published topic cannot contain '+' or '#'", "publish to a concrete topic; wildcards belong in subscriptions")
	}
	if t[0] == '/' {
		add(RuleLeadingSlash, "the topic starts with '/'", "use "+quote(Clean(t)))
	}
	if len(t) > 1 && t[len(t)-1] == '/' {
		add(RuleTrailingSlash, "the topic ends with '/'", "use "+quote(Clean(t)))
	}
	if inner := strings.Trim(t, "/"); strings.Contains(inner, "//") {
		add(RuleEmptyLevel, "the topic has an empty level ('//')", "use "+quote(Clean(t)))
	}
	checkCharacters(t, add)
	if t[0] == '$' {
		add(RuleDollar, "topics starting with '$' belong to the broker", "drop the '$' or use a prefix of your own")
	}
	maxLen, maxDepth := opt.MaxLength, opt.MaxDepth
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	if maxDepth <= 0 {
		maxDepth = DefaultMaxDepth
	}
	if len(t) > maxLen && len(t) <= MaxLen {
		add(RuleLength, fmt.Sprintf("the topic is %d bytes (limit %d)", len(t), maxLen), "shorten level names or move detail into the payload")
	}
	if d := strings.Count(t, "/") + 1; d > maxDepth {
		add(RuleDepth, fmt.Sprintf("the topic has %d levels (limit %d)", d, maxDepth), "flatten the tree or move detail into the payload")
	}
	if opt.Scheme != nil {
		if s.HasFlags {
			if err := opt.Scheme.CheckPublish(t, s.QoS, s.Retain); err != nil {
				add(RuleScheme, err.(*Violation).Detail(), "")
			}
		} else if _, ok := opt.Scheme.Lookup(t); !ok {
			add(RuleScheme, (&Violation{Reason: NotInScheme}).Detail(), "")
		}
	}

	conv := conventionOf(t, opt.Convention)
	if conv == nil && opt.Convention != "" {
		c := conventionByName(opt.Convention)
		root := "any root"
		if c != nil && c.root != "" {
			root = c.root + "/"
		}
		add(RuleConvention, "the topic is not under "+root+" ("+opt.Convention+" convention)", "move it under "+root)
		return out
	}
	if conv == nil || !conv.mandatesCase {
		if l := mixedCaseLevel(t); l != "" {
			add(RuleUppercase, "level "+quote(l)+" mixes upper and lower case", "use "+quote(lowerMixedCase(t)))
		}
	}
	if conv != nil {
		out = append(out, conv.check(s)...)
		return out
	}
	if s.HasFlags {
		out = append(out, flagRules(s)...)
	}
	return out
}

// checkCharacters reports whitespace, invisible and non-ASCII characters,
// each rule once per topic.
func checkCharacters(t string, add func(rule, msg, suggestion string)) {
	var space, hidden, nonASCII rune = -1, -1, -1
	for _, r := range t {
		switch {
		case unicode.IsSpace(r):
			if space < 0 {
				space = r
			}
		case r == 0:
			// Reported as nul-character.
		case !unicode.IsPrint(r):
			if hidden < 0 {
				hidden = r
			}
		case r >= utf8.RuneSelf:
			if nonASCII < 0 {
				nonASCII = r
			}
		}
	}
	if space >= 0 {
		add(RuleWhitespace, fmt.Sprintf("the topic contains whitespace (%U)", space), "use "+quote(Clean(t)))
	}
	if hidden >= 0 {
		add(RuleNonPrintable, fmt.Sprintf("the topic contains a non-printable character (%U)", hidden), "use "+quote(Clean(t)))
	}
	if nonASCII >= 0 {
		add(RuleNonASCII, fmt.Sprintf("the topic contains a non-ASCII character %q (%U)", nonASCII, nonASCII), "spell the level in ASCII letters, digits and '-'")
	}
}

// commandLevels and stateLevels name the leaf levels that the flag rules
// recognise (mqtt-smarthome, Homie, Home Assistant habits).
var (
	commandLevels = map[string]bool{"set": true, "get": true, "cmd": true, "command": true}
	stateLevels   = map[string]bool{"status": true, "state": true, "$state": true, "connected": true, "availability": true, "online": true}
)

func flagRules(s Sample) []Finding {
	leaf := lastLevel(s.Topic)
	switch {
	case commandLevels[leaf] && s.Retain:
		return []Finding{newFinding(s.Topic, RuleRetainedCommand, "a command topic was published retained", "publish commands with retain=false")}
	case stateLevels[leaf] && !s.Retain:
		return []Finding{newFinding(s.Topic, RuleUnretainedState, "a state topic was published without retain", "publish state with retain=true")}
	}
	return nil
}

// lintSet runs the rules that compare topics: case-variant and sibling-depth.
func lintSet(topics []string) []Finding {
	var out []Finding
	spelling := make(map[string]string) // exact parent + lower(level) -> first spelling
	type depthSeen struct {
		depth int
		topic string
	}
	leafDepth := make(map[string][]depthSeen) // prefix + leaf -> depths seen
	uniq := make(map[string]bool)
	var list [][]string
	for _, t := range topics {
		if t == "" || uniq[t] || !utf8.ValidString(t) {
			continue
		}
		uniq[t] = true
		levels := strings.Split(t, "/")
		list = append(list, levels)
		for i, l := range levels {
			key := strings.Join(levels[:i], "/") + "\x00" + strings.ToLower(l)
			if _, ok := spelling[key]; !ok {
				spelling[key] = l
			}
		}
		n := len(levels)
		leaf := levels[n-1]
		if leaf == "" || leaf[0] == '$' {
			continue
		}
		for k := 1; k <= n-2; k++ {
			key := strings.Join(levels[:k], "/") + "\x00" + leaf
			ds := leafDepth[key]
			found := false
			for _, d := range ds {
				if d.depth == n {
					found = true
					break
				}
			}
			if !found {
				leafDepth[key] = append(ds, depthSeen{n, t})
			}
		}
	}
	for _, levels := range list {
		t := strings.Join(levels, "/")
		for i, l := range levels {
			parent := strings.Join(levels[:i], "/")
			if first := spelling[parent+"\x00"+strings.ToLower(l)]; first != l {
				where := "at the top"
				if i > 0 {
					where = "under " + quote(parent+"/")
				}
				out = append(out, newFinding(t, RuleCaseVariant,
					fmt.Sprintf("level %s differs only in case from %s %s", quote(l), quote(first), where),
					"use one spelling: "+quote(first)))
				break
			}
		}
		n := len(levels)
		leaf := levels[n-1]
		if leaf == "" || leaf[0] == '$' {
			continue
		}
		for k := 1; k <= n-2; k++ {
			prefix := strings.Join(levels[:k], "/")
			other := ""
			for _, d := range leafDepth[prefix+"\x00"+leaf] {
				if d.depth != n {
					other = d.topic
					break
				}
			}
			if other == "" {
				continue
			}
			sub := prefix + strings.Repeat("/+", n-k-1) + "/" + leaf
			out = append(out, newFinding(t, RuleSiblingDepth,
				fmt.Sprintf("%s is reached at another depth in %s: %s misses one of them", quote(leaf), other, sub),
				fmt.Sprintf("keep the same number of levels between %s and %s", quote(prefix+"/"), quote(leaf))))
			break
		}
	}
	return out
}

func lastLevel(t string) string {
	if i := strings.LastIndexByte(t, '/'); i >= 0 {
		return t[i+1:]
	}
	return t
}

// lowerMixedCase lowers the levels that mix case and keeps the others.
func lowerMixedCase(t string) string {
	levels := strings.Split(t, "/")
	for i, l := range levels {
		if mixedCaseLevel(l) != "" {
			levels[i] = strings.ToLower(l)
		}
	}
	return strings.Join(levels, "/")
}

// mixedCaseLevel returns the first level that mixes upper- and lower-case
// letters ("Kitchen", "livingRoom"). Levels in capitals only ("DSN000001",
// "NDATA") are ids and acronyms, which are usually written that way.
func mixedCaseLevel(t string) string {
	for l := range strings.SplitSeq(t, "/") {
		upper, lower := false, false
		for _, r := range l {
			upper = upper || unicode.IsUpper(r)
			lower = lower || unicode.IsLower(r)
		}
		if upper && lower {
			return l
		}
	}
	return ""
}

// Clean fixes what the HiveMQ "never" rules forbid and can be fixed without
// knowing the intent: empty levels (leading, trailing and doubled '/') are
// dropped, whitespace runs become '-', invisible characters and NUL go.
// Non-ASCII letters are kept: only a person can spell them in ASCII.
func Clean(t string) string {
	var b strings.Builder
	space := false
	for _, r := range t {
		switch {
		case unicode.IsSpace(r):
			space = true
			continue
		case r == 0 || !unicode.IsPrint(r):
			continue
		}
		if space && b.Len() > 0 && r != '/' && !strings.HasSuffix(b.String(), "/") {
			b.WriteByte('-')
		}
		space = false
		b.WriteRune(r)
	}
	parts := strings.Split(b.String(), "/")
	kept := parts[:0]
	for _, p := range parts {
		if p != "" {
			kept = append(kept, p)
		}
	}
	return strings.Join(kept, "/")
}

// quote shows a topic or level in a message: single-quoted, or Go-quoted
// when it holds characters that would not show or would break the line.
func quote(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return strconv.Quote(s)
	}
	return "'" + s + "'"
}
