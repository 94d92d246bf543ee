package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"strings"

	"mqtls/topic"
)

// aclFile is a Mosquitto acl_file:
//
//	topic [read|write|readwrite|deny] TOPIC    (before any user line: anonymous clients)
//	user USERNAME                               (the topic lines after it are that user's)
//	pattern [read|write|readwrite|deny] TOPIC   (everyone; %u is the username, %c the client id)
//
// As in Mosquitto, deny lines are checked first, a client matched by no line
// is denied, and subscribing is always allowed (what may be read is checked
// at every delivery).
type aclFile struct {
	anon     []aclRule
	users    map[string][]aclRule
	patterns []aclRule
}

type aclRule struct {
	access string // read, write, readwrite, deny
	topic  string
}

func loadACLFile(path string) (*aclFile, error) {
	b, err := readOperatorFile(path, maxListFile)
	if err != nil {
		return nil, fmt.Errorf("acl_file: %w", err)
	}
	a := &aclFile{users: map[string][]aclRule{}}
	var cur *string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), 64<<10)
	for n := 1; sc.Scan(); n++ {
		ln := strings.TrimSpace(sc.Text())
		if ln == "" || ln[0] == '#' {
			continue
		}
		kw, rest, _ := strings.Cut(ln, " ")
		rest = strings.TrimSpace(rest)
		switch kw {
		case "user":
			if rest == "" {
				return nil, fmt.Errorf("acl_file %s:%d: user needs a username", path, n)
			}
			u := rest
			cur = &u
		case "topic", "pattern":
			r, err := parseACLRule(rest)
			if err != nil {
				return nil, fmt.Errorf("acl_file %s:%d: %v", path, n, err)
			}
			switch {
			case kw == "pattern":
				a.patterns = append(a.patterns, r)
			case cur == nil:
				a.anon = append(a.anon, r)
			default:
				a.users[*cur] = append(a.users[*cur], r)
			}
		default:
			return nil, fmt.Errorf("acl_file %s:%d: unknown keyword %q: want topic, user or pattern", path, n, kw)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("acl_file %s: %w", path, err)
	}
	return a, nil
}

func parseACLRule(rest string) (aclRule, error) {
	access, t, ok := strings.Cut(rest, " ")
	switch access {
	case "read", "write", "readwrite", "deny":
		if !ok {
			return aclRule{}, fmt.Errorf("%s needs a topic", access)
		}
		t = strings.TrimSpace(t)
	default:
		access, t = "readwrite", rest
	}
	if t == "" {
		return aclRule{}, fmt.Errorf("needs a topic")
	}
	if err := topic.ValidFilter(t); err != nil {
		return aclRule{}, fmt.Errorf("topic %q: %v", t, err)
	}
	return aclRule{access: access, topic: t}, nil
}

// allow answers for a publish (write) or a delivery (read). It is on the
// delivery path of every message, so it builds nothing it can avoid.
func (a *aclFile) allow(username, clientID, t string, write bool) bool {
	own := a.anon
	if username != "" {
		own = a.users[username]
	}
	// Patterns may not be used by clients whose name or id could widen them.
	patterns := a.patterns
	if strings.ContainsAny(username, "+#/") || strings.ContainsAny(clientID, "+#/") {
		patterns = nil
	}
	want := "read"
	if write {
		want = "write"
	}
	allowed := false
	for _, r := range own {
		if r.access == "deny" || (!allowed && (r.access == want || r.access == "readwrite")) {
			if topic.MatchACL(r.topic, t) {
				if r.access == "deny" {
					return false
				}
				allowed = true
			}
		}
	}
	for _, r := range patterns {
		if r.access == "deny" || (!allowed && (r.access == want || r.access == "readwrite")) {
			if r.matches(username, clientID, t) {
				if r.access == "deny" {
					return false
				}
				allowed = true
			}
		}
	}
	return allowed
}

// matches reports whether topic t matches the pattern with %u and %c
// substituted, as Mosquitto builds it (in one pass from left to right, so a
// name holding "%c" is not substituted again), without building it: it is
// asked on every delivery. A pattern naming the username does not apply to
// a client without one; allow has already refused names with '/', '+' or
// '#'.
func (r aclRule) matches(username, clientID, t string) bool {
	f := r.topic
	if !strings.Contains(f, "%") {
		return topic.MatchACL(f, t)
	}
	if username == "" && strings.Contains(f, "%u") {
		return false
	}
	s := topic.Subst{User: username, Client: clientID, InLevel: true}
	return s.Match(f, t)
}
