package topic

import (
	"fmt"
	"strings"
)

// Severity ranks a lint finding. Only [Error] makes `mqtls topic lint` fail.
type Severity int

const (
	Info Severity = iota
	Warning
	Error
)

func (s Severity) String() string {
	switch s {
	case Error:
		return "error"
	case Warning:
		return "warning"
	default:
		return "info"
	}
}

// MarshalText writes the severity as its lower-case name (for --json).
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads a severity name.
func (s *Severity) UnmarshalText(b []byte) error {
	for _, v := range []Severity{Info, Warning, Error} {
		if string(b) == v.String() {
			*s = v
			return nil
		}
	}
	return fmt.Errorf("unknown severity %q: use info, warning or error", b)
}

// Rule is one lint check: a stable id, its severity and why it exists.
type Rule struct {
	ID       string   `json:"id"`
	Severity Severity `json:"severity"`
	// Convention is "" for rules that apply to every topic, else the
	// convention (homie, sparkplug, owntracks, smarthome) the rule belongs to.
	Convention string `json:"convention,omitempty"`
	// NeedsFlags marks rules that judge the QoS and retain flag of a
	// publish: they run only where those were seen (live, or a recorded list
	// with flags).
	NeedsFlags bool `json:"needs_flags,omitempty"`
	// Rationale is one line: what the rule protects and its source.
	Rationale string `json:"rationale"`
}

// Rule ids. Errors are what MQTT forbids in a topic name and the HiveMQ
// "never" rules; warnings and infos are advice unless a convention says MUST.
const (
	RuleEmpty           = "empty-topic"
	RuleNUL             = "nul-character"
	RuleUTF8            = "invalid-utf8"
	RuleWildcard        = "wildcard-in-name"
	RuleMaxLen          = "mqtt-length"
	RuleLeadingSlash    = "leading-slash"
	RuleTrailingSlash   = "trailing-slash"
	RuleEmptyLevel      = "empty-level"
	RuleWhitespace      = "whitespace"
	RuleNonPrintable    = "non-printable"
	RuleNonASCII        = "non-ascii"
	RuleDollar          = "dollar-prefix"
	RuleLength          = "too-long"
	RuleDepth           = "too-deep"
	RuleUppercase       = "uppercase"
	RuleCaseVariant     = "case-variant"
	RuleSiblingDepth    = "sibling-depth"
	RuleRetainedCommand = "retained-command"
	RuleUnretainedState = "unretained-state"
	RuleConvention      = "convention-root"
	RuleScheme          = "not-in-scheme"

	RuleHomieID        = "homie-id"
	RuleHomieStructure = "homie-structure"
	RuleHomieRetain    = "homie-retain"

	RuleSparkplugStructure = "sparkplug-structure"
	RuleSparkplugFlags     = "sparkplug-flags"
	RuleSparkplugState     = "sparkplug-state"

	RuleOwnTracksStructure = "owntracks-structure"

	RuleSmartHomeFunction = "smarthome-function"
	RuleSmartHomeQoS      = "smarthome-qos"
)

// Default limits of the length and depth rules: AWS IoT Core allows 7
// slashes and 256 bytes, the strictest of the big brokers.
const (
	DefaultMaxLength = 256
	DefaultMaxDepth  = 8
)

var rules = []Rule{
	{ID: RuleEmpty, Severity: Error, Rationale: "MQTT forbids a zero-length topic name [MQTT-4.7.3-1]"},
	{ID: RuleNUL, Severity: Error, Rationale: "MQTT forbids U+0000 in topic names [MQTT-4.7.3-2]"},
	{ID: RuleUTF8, Severity: Error, Rationale: "topic names are UTF-8 strings; a broker must close the connection on ill-formed UTF-8 [MQTT-1.5.4-1]"},
	{ID: RuleWildcard, Severity: Error, Rationale: "'+' and '#' are wildcards for filters and may not appear in a published topic name [MQTT-3.3.2-2]"},
	{ID: RuleMaxLen, Severity: Error, Rationale: "a topic is a length-prefixed string of at most 65535 bytes"},
	{ID: RuleLeadingSlash, Severity: Error, Rationale: "HiveMQ: never use a leading '/': it adds an empty first level that every subscriber must repeat"},
	{ID: RuleTrailingSlash, Severity: Error, Rationale: "a trailing '/' adds an empty last level: 'a/b/' and 'a/b' are different topics"},
	{ID: RuleEmptyLevel, Severity: Error, Rationale: "'//' is an empty level that nobody types on purpose; '+' matches it, so it hides mistakes"},
	{ID: RuleWhitespace, Severity: Error, Rationale: "HiveMQ: never use spaces in a topic; they break shells, scripts and URLs"},
	{ID: RuleNonPrintable, Severity: Error, Rationale: "HiveMQ: avoid non-printable characters; control and invisible characters make topics that look equal but are not"},
	{ID: RuleNonASCII, Severity: Error, Rationale: "HiveMQ: use only ASCII characters; other scripts and look-alike letters break tools and ACLs"},
	{ID: RuleDollar, Severity: Warning, Rationale: "topics starting with '$' are reserved for the broker ($SYS, $CONTROL) and '#' subscriptions do not see them [MQTT-4.7.2-1]"},
	{ID: RuleLength, Severity: Warning, Rationale: "HiveMQ: keep topics short; every byte travels with every message, and AWS IoT Core stops at 256 bytes"},
	{ID: RuleDepth, Severity: Warning, Rationale: "deep trees are hard to read and to subscribe to; AWS IoT Core stops at 7 slashes"},
	{ID: RuleUppercase, Severity: Info, Rationale: "topics are case-sensitive; lower-case words avoid 'Kitchen' versus 'kitchen' (ids in capitals, like DSN000001, are fine)"},
	{ID: RuleCaseVariant, Severity: Warning, Rationale: "two spellings of one level that differ only in case split subscribers and ACLs in two"},
	{ID: RuleSiblingDepth, Severity: Warning, Rationale: "siblings that reach the same leaf at different depths break '+' subscriptions (home/+/temp misses home/bath/shower/temp)"},
	{ID: RuleRetainedCommand, Severity: Warning, NeedsFlags: true, Rationale: "a retained command (set, get, cmd, command) is replayed to every new subscriber: the device acts again on reconnect"},
	{ID: RuleUnretainedState, Severity: Info, NeedsFlags: true, Rationale: "state and availability topics (status, state, connected) should be retained so that a new subscriber learns them at once"},
	{ID: RuleScheme, Severity: Error, Rationale: "with --scheme, every topic (and its QoS and retain, when seen) must fit a pattern of the team's topic scheme"},
	{ID: RuleConvention, Severity: Error, Rationale: "with --convention, every topic must live under that convention's root"},

	{ID: RuleHomieID, Severity: Error, Convention: "homie", Rationale: "Homie: topic IDs may only hold a-z, 0-9 and '-', not at the start or end; '$' only starts attributes"},
	{ID: RuleHomieStructure, Severity: Error, Convention: "homie", Rationale: "Homie: homie[/5]/<device>/<node>/<property>[/set|/$target] or an attribute '$...' of a device, node or property"},
	{ID: RuleHomieRetain, Severity: Warning, Convention: "homie", NeedsFlags: true, Rationale: "Homie: all messages are retained unless stated otherwise, and '/set' messages are never retained"},

	{ID: RuleSparkplugStructure, Severity: Error, Convention: "sparkplug", Rationale: "Sparkplug B: spBv1.0/<group>/<type>/<edge-node>[/<device>], a device id exactly with DBIRTH, DDEATH, DDATA, DCMD; or spBv1.0/STATE/<host>"},
	{ID: RuleSparkplugFlags, Severity: Warning, Convention: "sparkplug", NeedsFlags: true, Rationale: "Sparkplug B: NBIRTH, NDATA, NCMD, DBIRTH, DDATA, DDEATH and DCMD must be QoS 0 and not retained"},
	{ID: RuleSparkplugState, Severity: Warning, Convention: "sparkplug", NeedsFlags: true, Rationale: "Sparkplug B 3.0: the host STATE message must be QoS 1 and retained"},

	{ID: RuleOwnTracksStructure, Severity: Warning, Convention: "owntracks", Rationale: "OwnTracks: owntracks/<user>/<device>[/cmd|event|info|step|beacon|dump|status|waypoint|waypoints]"},

	{ID: RuleSmartHomeFunction, Severity: Warning, Convention: "smarthome", Rationale: "mqtt-smarthome: <prefix>/<status|set|get|command>/<item...> or <prefix>/connected"},
	{ID: RuleSmartHomeQoS, Severity: Info, Convention: "smarthome", NeedsFlags: true, Rationale: "mqtt-smarthome: QoS 1 on set, get and command can repeat an action (duplicates); prefer QoS 0 or 2"},
}

// Rules returns every lint rule, general rules first, then by convention.
func Rules() []Rule {
	return append([]Rule(nil), rules...)
}

// RuleByID returns the rule with that id.
func RuleByID(id string) (Rule, bool) {
	i, ok := ruleIndex[id]
	if !ok {
		return Rule{}, false
	}
	return rules[i], true
}

var ruleIndex = func() map[string]int {
	m := make(map[string]int, len(rules))
	for i, r := range rules {
		m[r.ID] = i
	}
	return m
}()

// Finding is one rule broken by one topic.
type Finding struct {
	Topic    string   `json:"topic"`
	Rule     string   `json:"rule"`
	Severity Severity `json:"severity"`
	// Message says what is wrong with this topic.
	Message string `json:"message"`
	// Suggestion says what to do instead; it may be empty.
	Suggestion string `json:"suggestion,omitempty"`
}

// String formats the finding as one line:
// TOPIC: rule-id: severity: explanation (suggestion).
// Characters that would break the line are quoted.
func (f Finding) String() string {
	var b strings.Builder
	b.WriteString(printableTopic(f.Topic))
	b.WriteString(": ")
	b.WriteString(f.Rule)
	b.WriteString(": ")
	b.WriteString(f.Severity.String())
	b.WriteString(": ")
	b.WriteString(f.Message)
	if f.Suggestion != "" {
		b.WriteString(" (")
		b.WriteString(f.Suggestion)
		b.WriteString(")")
	}
	return b.String()
}

// printableTopic shows a topic as typed when it is plain printable ASCII
// without spaces, else Go-quoted so that invisible characters show.
func printableTopic(s string) string {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f || s[i] == '"' {
			return fmt.Sprintf("%+q", s)
		}
	}
	if s == "" {
		return `""`
	}
	return s
}

func newFinding(topic, rule, msg, suggestion string) Finding {
	r, ok := RuleByID(rule)
	if !ok {
		panic("topic: unknown lint rule " + rule)
	}
	return Finding{Topic: topic, Rule: rule, Severity: r.Severity, Message: msg, Suggestion: suggestion}
}
