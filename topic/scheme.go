package topic

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"mqtls/internal/fileio"

	"go.yaml.in/yaml/v3"
)

// A Scheme is a team's topic design in one small file: the topics that
// exist, who publishes each, and the QoS and retain flag they expect. The
// broker enforces it ([Scheme.CheckPublish]), `mqtls topic acl` turns it into
// dynsec roles ([Scheme.Roles]) and `mqtls topic doc` into a Markdown table
// ([Scheme.Markdown]).
//
// The file is YAML (JSON is valid YAML too):
//
//	name: acme sensors
//	topics:
//	  - pattern: devices/{client}/telemetry/{metric}
//	    direction: pub        # the device publishes, services subscribe
//	    qos: [0, 1]
//	    retain: false
//	    payload: number
//	    description: one reading per metric
//	  - pattern: devices/{client}/cmd/#
//	    direction: sub        # services publish, the device subscribes
//	    retain: false
//
// A pattern level is a literal, a variable `{name}` or `+` (one level), or
// `#` (any levels below, last only). `{client}` (also `{username}`) is the
// device's user name, which is its certificate CN; `{clientid}` is its MQTT
// client id. In ACLs they become dynsec's `%u` and `%c`.
type Scheme struct {
	Name        string
	Description string
	// DeviceRole and ServiceRole name the dynsec roles [Scheme.Roles]
	// derives: "device" and "service" unless the file says otherwise.
	DeviceRole  string
	ServiceRole string
	Topics      []Entry
	root        *node
}

// Direction says who publishes on a topic, seen from the device the
// pattern belongs to.
type Direction uint8

const (
	// Pub: the device publishes, services subscribe (telemetry, state).
	Pub Direction = iota + 1
	// Sub: services publish, the device subscribes (commands, config).
	Sub
	// Both: either side publishes and subscribes.
	Both
)

func (d Direction) String() string {
	switch d {
	case Pub:
		return "pub"
	case Sub:
		return "sub"
	case Both:
		return "both"
	}
	return "?"
}

// Entry is one topic pattern of a scheme.
type Entry struct {
	Pattern   string
	Direction Direction
	// QoS lists the QoS levels allowed; nil allows all.
	QoS []byte
	// Retain, when set, is the retain flag every publish must carry.
	Retain      *bool
	Payload     string
	Description string
	// Line is where the entry starts in the file.
	Line   int
	levels []string
}

// Variables of a pattern that stand for the publishing client.
const (
	VarClient   = "client"
	VarUsername = "username"
	VarClientID = "clientid"
)

// MaxSchemeSize bounds a scheme file.
const MaxSchemeSize = 1 << 20

type rawScheme struct {
	Name        string     `yaml:"name"`
	Description string     `yaml:"description"`
	Roles       rawRoles   `yaml:"roles"`
	Topics      []rawEntry `yaml:"topics"`
}

type rawRoles struct {
	Device  string `yaml:"device"`
	Service string `yaml:"service"`
}

type rawEntry struct {
	Pattern     string `yaml:"pattern"`
	Direction   string `yaml:"direction"`
	QoS         any    `yaml:"qos"`
	Retain      *bool  `yaml:"retain"`
	Payload     string `yaml:"payload"`
	Description string `yaml:"description"`
	line        int
}

var entryKeys = []string{"pattern", "direction", "qos", "retain", "payload", "description"}

// UnmarshalYAML keeps the entry's line and refuses unknown keys (the
// decoder's strict mode does not reach into custom unmarshalers).
func (e *rawEntry) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: a topic entry is a mapping with at least 'pattern'", n.Line)
	}
	for i := 0; i < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(entryKeys, k.Value) {
			return fmt.Errorf("line %d: unknown key %q in a topic entry (known: %s)", k.Line, k.Value, strings.Join(entryKeys, ", "))
		}
	}
	type plain rawEntry
	if err := n.Decode((*plain)(e)); err != nil {
		return err
	}
	e.line = n.Line
	return nil
}

// LoadScheme reads and parses a scheme file.
func LoadScheme(path string) (*Scheme, error) {
	data, err := fileio.ReadFile(path, MaxSchemeSize, "a topic scheme")
	if err != nil {
		return nil, fmt.Errorf("load topic scheme: %w", err)
	}
	s, err := ParseScheme(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return s, nil
}

// ParseScheme parses and compiles a scheme. Errors name the line.
func ParseScheme(data []byte) (*Scheme, error) {
	if len(data) > MaxSchemeSize {
		return nil, fmt.Errorf("scheme is larger than %d bytes", MaxSchemeSize)
	}
	var raw rawScheme
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("scheme is empty: it needs a 'topics' list")
		}
		return nil, fmt.Errorf("parse scheme: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(raw.Topics) == 0 {
		return nil, errors.New("scheme has no topics: add a 'topics' list of patterns")
	}
	s := &Scheme{
		Name:        raw.Name,
		Description: raw.Description,
		DeviceRole:  cmp.Or(raw.Roles.Device, "device"),
		ServiceRole: cmp.Or(raw.Roles.Service, "service"),
		root:        &node{},
	}
	for _, name := range []string{s.DeviceRole, s.ServiceRole} {
		if strings.ContainsAny(name, " \t\r\n\"'") {
			return nil, fmt.Errorf("role name %q: use letters, digits, '-' and '_'", name)
		}
	}
	if s.DeviceRole == s.ServiceRole {
		return nil, fmt.Errorf("roles: device and service role are both %q", s.DeviceRole)
	}
	seen := map[string]int{}
	for _, r := range raw.Topics {
		e, err := compileEntry(r)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", r.line, err)
		}
		key := e.Filter()
		if prev, dup := seen[key]; dup {
			return nil, fmt.Errorf("line %d: pattern %s repeats the one on line %d", r.line, e.Pattern, prev)
		}
		seen[key] = r.line
		s.Topics = append(s.Topics, e)
	}
	for i := range s.Topics {
		s.root.insert(s.Topics[i].levels, i)
	}
	return s, nil
}

func compileEntry(r rawEntry) (Entry, error) {
	e := Entry{Pattern: r.Pattern, Retain: r.Retain, Payload: r.Payload, Description: r.Description, Line: r.line}
	switch r.Direction {
	case "", "pub":
		e.Direction = Pub
	case "sub":
		e.Direction = Sub
	case "both":
		e.Direction = Both
	default:
		return e, fmt.Errorf("direction %q: use pub (the device publishes), sub (the device subscribes) or both", r.Direction)
	}
	qos, err := parseQoS(r.QoS)
	if err != nil {
		return e, err
	}
	e.QoS = qos
	if r.Pattern == "" {
		return e, errors.New("a topic entry needs a 'pattern'")
	}
	levels, err := parsePattern(r.Pattern)
	if err != nil {
		return e, fmt.Errorf("pattern %s: %w", r.Pattern, err)
	}
	e.levels = levels
	return e, nil
}

func parseQoS(v any) ([]byte, error) {
	var list []any
	switch q := v.(type) {
	case nil:
		return nil, nil
	case []any:
		list = q
	default:
		list = []any{q}
	}
	var out []byte
	for _, x := range list {
		n, ok := x.(int)
		if !ok || n < 0 || n > 2 {
			return nil, fmt.Errorf("qos %v: use 0, 1, 2 or a list of them", x)
		}
		if !slices.Contains(out, byte(n)) {
			out = append(out, byte(n))
		}
	}
	if len(out) == 0 {
		return nil, errors.New("qos: an empty list allows nothing; leave qos out to allow all")
	}
	slices.Sort(out)
	return out, nil
}

// parsePattern splits a pattern into levels: literals, "+" for every
// variable, "#" last. It refuses what lint calls an error in the literal
// parts, so a scheme cannot bless a topic the linter condemns.
func parsePattern(p string) ([]string, error) {
	parts := strings.Split(p, "/")
	levels := make([]string, len(parts))
	probe := make([]string, len(parts))
	for i, l := range parts {
		switch {
		case l == "#":
			if i != len(parts)-1 {
				return nil, errors.New("'#' must be the last level")
			}
			levels[i], probe[i] = l, "x"
		case l == "+":
			levels[i], probe[i] = l, "x"
		case strings.HasPrefix(l, "{") && strings.HasSuffix(l, "}"):
			name := l[1 : len(l)-1]
			if !validVarName(name) {
				return nil, fmt.Errorf("variable %s: names are lower-case letters, digits and '_'", l)
			}
			levels[i], probe[i] = "{"+name+"}", "x"
		case strings.ContainsAny(l, "{}"):
			return nil, fmt.Errorf("level %q: a variable fills a whole level, like {device}", l)
		case strings.ContainsAny(l, "+#"):
			return nil, fmt.Errorf("level %q: '+' and '#' fill a whole level", l)
		default:
			levels[i], probe[i] = l, l
		}
	}
	for _, f := range LintSample(Sample{Topic: strings.Join(probe, "/")}, Options{}) {
		if f.Severity == Error {
			return nil, errors.New(f.Message)
		}
	}
	return levels, nil
}

func validVarName(s string) bool {
	if s == "" || !(s[0] >= 'a' && s[0] <= 'z') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Filter is the entry's pattern as an MQTT filter: every variable is '+'.
func (e *Entry) Filter() string { return e.filter(nil) }

// ACLTopic is the pattern as a dynsec ACL topic: {client} and {username}
// become %u, {clientid} becomes %c, other variables '+'.
func (e *Entry) ACLTopic() string {
	return e.filter(map[string]string{VarClient: "%u", VarUsername: "%u", VarClientID: "%c"})
}

// Owned reports whether the pattern names the client it belongs to.
func (e *Entry) Owned() bool {
	return e.ACLTopic() != e.Filter()
}

func (e *Entry) filter(vars map[string]string) string {
	out := make([]string, len(e.levels))
	for i, l := range e.levels {
		if strings.HasPrefix(l, "{") {
			if v, ok := vars[l[1:len(l)-1]]; ok {
				out[i] = v
				continue
			}
			out[i] = "+"
			continue
		}
		out[i] = l
	}
	return strings.Join(out, "/")
}
