package dynsec

import (
	"strings"

	"mqtls/topic"
)

// decision is the outcome of one ACL question and what made it.
type decision struct {
	allow bool
	// known is false when the username is no client (always deny).
	known bool
	// role and acl are the deciding ACL; role is nil when default access
	// (or nothing) decided.
	role  *role
	acl   acl
	via   string // "client" or the group name the role came through
	typ   int    // ACL type index of the deciding ACL
	isDef bool   // default access decided
}

// roleSource is one role list with where it came from, in evaluation order.
type roleSource struct {
	via   string
	roles []roleRef
}

// sources lists the role lists Mosquitto checks for a user: the client's
// roles, then each of its groups' roles in group priority order; for an
// anonymous user, the anonymous group's roles.
func (m *model) sources(username string) (src []roleSource, known bool) {
	if username == "" {
		if m.anon != nil {
			src = append(src, roleSource{via: m.anon.name, roles: m.anon.roles})
		}
		return src, true
	}
	c := m.client(username)
	if c == nil {
		return nil, false
	}
	src = append(src, roleSource{via: "client", roles: c.roles})
	for _, gr := range c.groups {
		src = append(src, roleSource{via: gr.group.name, roles: gr.group.roles})
	}
	return src, true
}

// decide is Mosquitto's acl_check with %u and %c substitution added. It
// walks the same role lists as [model.sources] without building them: a
// decision is made on every cache miss, so it allocates nothing.
func (m *model) decide(username, clientID, t string, access Access) decision {
	if username == "" {
		if m.anon != nil {
			if d, ok := checkRoles(m.anon.roles, username, clientID, t, access); ok {
				d.via = m.anon.name
				return d
			}
		}
	} else {
		c := m.client(username)
		if c == nil {
			return decision{}
		}
		if d, ok := checkRoles(c.roles, username, clientID, t, access); ok {
			d.via = "client"
			return d
		}
		for _, gr := range c.groups {
			if d, ok := checkRoles(gr.group.roles, username, clientID, t, access); ok {
				d.via = gr.group.name
				return d
			}
		}
	}
	var def bool
	switch access {
	case PublishSend:
		def = m.defaults.PublishClientSend
	case PublishReceive:
		def = m.defaults.PublishClientReceive
	case Subscribe:
		def = m.defaults.Subscribe
	case Unsubscribe:
		def = m.defaults.Unsubscribe
	}
	// $CONTROL is never granted by default access.
	if IsControlTopic(t) {
		def = false
	}
	return decision{allow: def, known: true, isDef: true}
}

// checkRoles tries the roles of one list in order.
func checkRoles(roles []roleRef, username, clientID, t string, access Access) (decision, bool) {
	for _, rr := range roles {
		if d, ok := checkRole(rr.role, username, clientID, t, access); ok {
			d.known = true
			return d, true
		}
	}
	return decision{}, false
}

// checkRole looks for the first matching ACL of r; ok is false when none
// matches.
func checkRole(r *role, username, clientID, t string, access Access) (decision, bool) {
	switch access {
	case PublishSend, PublishReceive:
		typ := aclSend
		if access == PublishReceive {
			typ = aclRecv
		}
		for _, a := range r.acls[typ] {
			if matchPublishACL(a, username, clientID, t) {
				return decision{allow: a.allow, role: r, acl: a, typ: typ}, true
			}
		}
	case Subscribe, Unsubscribe:
		lit, pat := aclSubLiteral, aclSubPattern
		if access == Unsubscribe {
			lit, pat = aclUnsubLiteral, aclUnsubPattern
		}
		for _, a := range r.acls[lit] {
			if matchACL(a, username, clientID, t, func(f string) bool { return f == t }) {
				return decision{allow: a.allow, role: r, acl: a, typ: lit}, true
			}
		}
		for _, a := range r.acls[pat] {
			if matchACL(a, username, clientID, t, func(f string) bool { return subACLCheck(f, t) }) {
				return decision{allow: a.allow, role: r, acl: a, typ: pat}, true
			}
		}
	}
	return decision{}, false
}

// matchACL applies match to the ACL topic after substituting %u and %c.
// A level that is exactly "%u" or "%c" is replaced by the username or client
// id. When that value is empty or holds '/', '+' or '#', it cannot stand for
// one level: an allow ACL then does not match and a deny ACL does (fail
// closed).
func matchACL(a acl, username, clientID, t string, match func(string) bool) bool {
	f := a.topic
	if !strings.Contains(f, "%") {
		return match(f)
	}
	if unfit(f, username, clientID) {
		return !a.allow
	}
	levels := strings.Split(f, "/")
	subst := false
	for i, l := range levels {
		switch l {
		case "%u":
			levels[i] = username
		case "%c":
			levels[i] = clientID
		default:
			continue
		}
		subst = true
	}
	if !subst {
		return match(f)
	}
	return match(strings.Join(levels, "/"))
}

// matchPublishACL is matchACL with topic.MatchACL, without building the
// substituted filter: topic.Subst reads a "%u" or "%c" level as the
// username or client id while it walks the filter.
func matchPublishACL(a acl, username, clientID, t string) bool {
	f := a.topic
	if !strings.Contains(f, "%") {
		return topic.MatchACL(f, t)
	}
	if unfit(f, username, clientID) {
		return !a.allow
	}
	s := topic.Subst{User: username, Client: clientID}
	return s.Match(f, t)
}

// unfit reports whether filter f has a "%u" or "%c" level whose value cannot
// stand for one level: empty, or holding '/', '+' or '#'.
func unfit(f, username, clientID string) bool {
	badU, badC := unfitName(username), unfitName(clientID)
	if !badU && !badC {
		return false
	}
	for rest := f; ; {
		l, r, more := strings.Cut(rest, "/")
		if (badU && l == "%u") || (badC && l == "%c") {
			return true
		}
		if !more {
			return false
		}
		rest = r
	}
}

// subACLCheck is the plugin's sub_acl_check: does the subscribePattern ACL
// acl cover the subscription filter sub? "#" covers everything, '+' in the
// ACL covers any one level (a literal '+' too), and a filter ending in '#'
// needs an ACL ending in '#'. No special case for '$' topics.
func subACLCheck(aclTopic, sub string) bool {
	if aclTopic == "#" {
		return true
	}
	a, aHash := cutHash(aclTopic)
	s, sHash := cutHash(sub)
	if sHash && !aHash {
		return false
	}
	al := strings.Split(a, "/")
	sl := strings.Split(s, "/")
	if len(al) > len(sl) || (len(sl) > len(al) && !aHash) {
		return false
	}
	for i := range sl {
		switch {
		case i < len(al) && (al[i] == "+" || al[i] == sl[i]):
		case i >= len(al) && aHash:
		default:
			return false
		}
	}
	return true
}

func cutHash(s string) (string, bool) {
	if s == "#" {
		return "", true
	}
	if rest, ok := strings.CutSuffix(s, "/#"); ok {
		return rest, true
	}
	return s, false
}

// unfitName reports whether a name cannot stand for one level: empty, or
// holding '/', '+' or '#'. It is asked on every decision, so it is a loop
// rather than strings.ContainsAny.
func unfitName(s string) bool {
	if s == "" {
		return true
	}
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '/', '+', '#':
			return true
		}
	}
	return false
}
