package topic

import (
	"fmt"
	"strings"
)

// Convention is a published topic convention that lint knows.
type Convention struct {
	Name string `json:"name"`
	// Root is the first level of its topics ("" when any prefix is allowed).
	Root string `json:"root,omitempty"`
	// About is one line with its layout.
	About string `json:"about"`
}

type convention struct {
	name, root, about string
	// mandatesCase: the convention fixes letter case itself (Sparkplug's
	// NBIRTH, Homie's lower-case ids), so the general uppercase rule is off.
	mandatesCase bool
	check        func(Sample) []Finding
}

var conventions = []*convention{
	{name: "homie", root: "homie", mandatesCase: true, check: checkHomie,
		about: "Homie 3/4/5: homie[/5]/<device>/<node>/<property>[/set], '$' attributes"},
	{name: "sparkplug", root: "spBv1.0", mandatesCase: true, check: checkSparkplug,
		about: "Sparkplug B: spBv1.0/<group>/<NBIRTH|NDATA|...>/<edge-node>[/<device>], spBv1.0/STATE/<host>"},
	{name: "owntracks", root: "owntracks", check: checkOwnTracks,
		about: "OwnTracks: owntracks/<user>/<device>[/event|cmd|info|...]"},
	{name: "smarthome", root: "", check: checkSmartHome,
		about: "mqtt-smarthome: <prefix>/<status|set|get|command>/<item...>, <prefix>/connected"},
}

// Conventions lists the conventions lint can check.
func Conventions() []Convention {
	out := make([]Convention, len(conventions))
	for i, c := range conventions {
		out[i] = Convention{Name: c.name, Root: c.root, About: c.about}
	}
	return out
}

// ValidConvention reports whether lint knows the convention name.
func ValidConvention(name string) bool { return conventionByName(name) != nil }

func conventionByName(name string) *convention {
	for _, c := range conventions {
		if c.name == name {
			return c
		}
	}
	return nil
}

// conventionOf returns the convention that governs t: the required one if it
// claims t, else the one whose root t starts with.
func conventionOf(t, required string) *convention {
	first, _, _ := strings.Cut(t, "/")
	if required != "" {
		c := conventionByName(required)
		if c == nil || (c.root != "" && first != c.root) {
			return nil
		}
		return c
	}
	for _, c := range conventions {
		if c.root != "" && first == c.root && strings.Contains(t, "/") {
			return c
		}
	}
	return nil
}

// homieID: lower-case letters, digits and '-', not at the start or end.
func homieID(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func checkHomie(s Sample) []Finding {
	t := s.Topic
	levels := strings.Split(t, "/")
	rest := levels[1:]
	version := "v3/v4"
	if len(rest) > 0 && rest[0] == "5" {
		rest, version = rest[1:], "v5"
	}
	var out []Finding
	for _, l := range rest {
		id := strings.TrimPrefix(l, "$")
		if l != "" && !homieID(id) {
			out = append(out, newFinding(t, RuleHomieID,
				fmt.Sprintf("Homie ID %s may only hold a-z, 0-9 and '-' (not first or last)", quote(l)),
				"use "+quote(homieSuggest(l))))
			break
		}
	}
	if msg := homieShape(rest); msg != "" {
		out = append(out, newFinding(t, RuleHomieStructure, "Homie "+version+": "+msg, "homie/5/<device>/<node>/<property>"))
	}
	if s.HasFlags {
		leaf := levels[len(levels)-1]
		switch {
		case leaf == "set" && s.Retain:
			out = append(out, newFinding(t, RuleHomieRetain, "a '/set' message was retained", "publish '/set' with retain=false"))
		case strings.HasPrefix(leaf, "$") && !s.Retain && leaf != "$broadcast" && levels[len(levels)-2] != "$broadcast":
			out = append(out, newFinding(t, RuleHomieRetain, "an attribute was published without retain", "publish attributes with retain=true"))
		}
	}
	return out
}

// homieShape returns what is wrong with the levels below homie[/5], or "".
func homieShape(rest []string) string {
	if len(rest) == 0 {
		return "the topic names no device"
	}
	if rest[0] == "$broadcast" {
		if len(rest) < 2 {
			return "a broadcast needs a subtopic"
		}
		return ""
	}
	if strings.HasPrefix(rest[0], "$") {
		return "the device level cannot be an attribute"
	}
	r := rest[1:]
	switch {
	case len(r) == 0:
		return "a device id alone carries nothing; publish its attributes or properties"
	case strings.HasPrefix(r[0], "$"):
		return "" // device attribute, with sub-levels such as $stats/uptime
	}
	r = r[1:] // node
	switch {
	case len(r) == 0:
		return "a node carries no value; publish to <node>/<property>"
	case strings.HasPrefix(r[0], "$"):
		if len(r) > 1 {
			return "a node attribute has no sub-levels"
		}
		return ""
	}
	r = r[1:] // property
	switch {
	case len(r) == 0:
		return ""
	case len(r) == 1 && (r[0] == "set" || strings.HasPrefix(r[0], "$")):
		return ""
	}
	return fmt.Sprintf("unexpected level %s below a property (only 'set' or an attribute)", quote(r[0]))
}

func homieSuggest(l string) string {
	var b strings.Builder
	if strings.HasPrefix(l, "$") {
		b.WriteByte('$')
		l = l[1:]
	}
	id := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + 'a' - 'A'
		}
		return '-'
	}, l)
	b.WriteString(strings.Trim(id, "-"))
	return b.String()
}

var sparkplugTypes = map[string]bool{
	"NBIRTH": true, "NDEATH": true, "DBIRTH": true, "DDEATH": true,
	"NDATA": true, "DDATA": true, "NCMD": true, "DCMD": true,
}

// sparkplugQoS0: message types that must be QoS 0 and not retained.
var sparkplugQoS0 = map[string]bool{
	"NBIRTH": true, "NDATA": true, "NCMD": true, "DBIRTH": true, "DDATA": true, "DDEATH": true, "DCMD": true,
}

func checkSparkplug(s Sample) []Finding {
	t := s.Topic
	levels := strings.Split(t, "/")
	n := len(levels)
	bad := func(msg string) []Finding {
		return []Finding{newFinding(t, RuleSparkplugStructure, msg, "spBv1.0/<group>/<message-type>/<edge-node>[/<device>]")}
	}
	if n >= 2 && levels[1] == "STATE" {
		if n != 3 {
			return bad("a STATE topic is spBv1.0/STATE/<host-id>")
		}
		if s.HasFlags && (s.QoS != 1 || !s.Retain) {
			return []Finding{newFinding(t, RuleSparkplugState,
				fmt.Sprintf("STATE was published with QoS %d, retain=%v", s.QoS, s.Retain), "publish STATE with QoS 1 and retain=true")}
		}
		return nil
	}
	if n < 4 || n > 5 {
		return bad(fmt.Sprintf("a Sparkplug topic has 4 or 5 levels, this one %d", n))
	}
	mt := levels[2]
	if !sparkplugTypes[mt] {
		return bad(fmt.Sprintf("unknown message type %s", quote(mt)))
	}
	if device := mt[0] == 'D'; device != (n == 5) {
		if device {
			return bad(mt + " needs a device id after the edge node id")
		}
		return bad(mt + " takes no device id")
	}
	if s.HasFlags && sparkplugQoS0[mt] && (s.QoS != 0 || s.Retain) {
		return []Finding{newFinding(t, RuleSparkplugFlags,
			fmt.Sprintf("%s was published with QoS %d, retain=%v", mt, s.QoS, s.Retain), "publish "+mt+" with QoS 0 and retain=false")}
	}
	return nil
}

var ownTracksSuffixes = map[string]bool{
	"cmd": true, "event": true, "info": true, "step": true, "beacon": true,
	"dump": true, "status": true, "waypoint": true, "waypoints": true,
}

func checkOwnTracks(s Sample) []Finding {
	levels := strings.Split(s.Topic, "/")
	switch {
	case len(levels) == 3:
		return nil
	case len(levels) == 4 && ownTracksSuffixes[levels[3]]:
		return nil
	}
	msg := "OwnTracks topics are owntracks/<user>/<device> with an optional known suffix"
	if len(levels) == 4 {
		msg = fmt.Sprintf("unknown OwnTracks suffix %s", quote(levels[3]))
	}
	return []Finding{newFinding(s.Topic, RuleOwnTracksStructure, msg, "owntracks/<user>/<device>[/event|cmd|info|status|waypoint|...]")}
}

var smartHomeFunctions = map[string]bool{"status": true, "set": true, "get": true, "command": true}

func checkSmartHome(s Sample) []Finding {
	t := s.Topic
	levels := strings.Split(t, "/")
	if len(levels) == 2 && levels[1] == "connected" {
		if s.HasFlags && !s.Retain {
			return []Finding{newFinding(t, RuleUnretainedState, "'connected' was published without retain", "publish <prefix>/connected retained (0, 1 or 2)")}
		}
		return nil
	}
	if len(levels) < 3 || !smartHomeFunctions[levels[1]] {
		return []Finding{newFinding(t, RuleSmartHomeFunction, "the second level must be status, set, get or command",
			"<prefix>/status/<item>, <prefix>/set/<item> or <prefix>/connected")}
	}
	if !s.HasFlags || levels[1] == "status" {
		return nil
	}
	var out []Finding
	if s.Retain {
		out = append(out, newFinding(t, RuleRetainedCommand, "a '"+levels[1]+"' message was published retained", "publish "+levels[1]+" with retain=false"))
	}
	if s.QoS == 1 {
		out = append(out, newFinding(t, RuleSmartHomeQoS, "a '"+levels[1]+"' message was published with QoS 1", "use QoS 0 or 2"))
	}
	return out
}
