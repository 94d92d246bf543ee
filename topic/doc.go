package topic

import (
	"fmt"
	"strings"
)

// Markdown renders the scheme for a team's docs: a title, the description,
// a table of topics and the dynsec roles derived from it.
func (s *Scheme) Markdown() string {
	var b strings.Builder
	title := s.Name
	if title == "" {
		title = "Topic scheme"
	}
	fmt.Fprintf(&b, "# %s\n\n", mdText(title))
	if s.Description != "" {
		fmt.Fprintf(&b, "%s\n\n", mdText(strings.TrimSpace(s.Description)))
	}
	b.WriteString("| Topic | Published by | QoS | Retained | Payload | Description |\n")
	b.WriteString("|---|---|---|---|---|---|\n")
	for i := range s.Topics {
		e := &s.Topics[i]
		fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n",
			mdCode(e.Pattern), publisher(e.Direction), qosCell(e.QoS), retainCell(e.Retain), mdCell(e.Payload), mdCell(e.Description))
	}
	if vars := s.variables(); len(vars) > 0 {
		b.WriteString("\nVariables fill one level each:")
		for _, v := range vars {
			fmt.Fprintf(&b, " %s %s;", mdCode("{"+v+"}"), varMeaning(v))
		}
		b.WriteString(" `#` is any number of levels.\n")
	}
	b.WriteString("\n## Access\n\n")
	b.WriteString("Derived with `mqtls topic acl`: `%u` is the client's user name (its certificate CN), `%c` its client id.\n\n")
	b.WriteString("| Role | ACL | Topic |\n|---|---|---|\n")
	for _, r := range s.Roles() {
		for _, a := range r.ACLs {
			fmt.Fprintf(&b, "| %s | %s | %s |\n", mdCell(r.Name), a.Type, mdCode(a.Topic))
		}
	}
	return b.String()
}

func (s *Scheme) variables() []string {
	var out []string
	seen := map[string]bool{}
	for i := range s.Topics {
		for _, l := range s.Topics[i].levels {
			if strings.HasPrefix(l, "{") && !seen[l] {
				seen[l] = true
				out = append(out, l[1:len(l)-1])
			}
		}
	}
	return out
}

func varMeaning(v string) string {
	switch v {
	case VarClient, VarUsername:
		return "is the device's user name (certificate CN)"
	case VarClientID:
		return "is the device's MQTT client id"
	}
	return "is any one level"
}

func publisher(d Direction) string {
	switch d {
	case Sub:
		return "service → device"
	case Both:
		return "both"
	}
	return "device → service"
}

func qosCell(q []byte) string {
	if q == nil {
		return "any"
	}
	return strings.ReplaceAll(qosList(q), " or ", ", ")
}

func retainCell(r *bool) string {
	switch {
	case r == nil:
		return "either"
	case *r:
		return "yes"
	}
	return "no"
}

// mdCell makes text safe inside a table cell: one line, '|' escaped.
func mdCell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.ReplaceAll(mdText(s), "|", `\|`)
}

// mdText escapes the characters that would start HTML.
func mdText(s string) string {
	return strings.NewReplacer("<", "&lt;", ">", "&gt;").Replace(s)
}

// mdCode shows a pattern as code; backticks inside are doubled away.
func mdCode(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}
