package dynsec

import (
	"fmt"
	"strings"
)

// Explanation says which rule answers an ACL question (for `mqtls dynsec
// check`, a command Mosquitto lacks).
type Explanation struct {
	Allow bool
	// Known is false when the username is no client: always denied.
	Known bool
	// Disabled is true when the client exists but may not log in.
	Disabled bool
	// Role is the role of the deciding ACL, "" when default access decided.
	Role string
	// Via is "" for the client's own roles, else the group the role came
	// through (for an anonymous client, the anonymous group).
	Via      string
	ACLType  string
	Topic    string
	Priority int
	// Control is true when default access would allow but the topic starts
	// with $CONTROL.
	Control bool
}

// Explain answers an ACL question like [Store.Allow] (without the cache)
// and says what decided.
func (s *Store) Explain(username, clientID, topic string, access Access) Explanation {
	s.mu.RLock()
	defer s.mu.RUnlock()
	d := s.m.decide(username, clientID, topic, access)
	e := Explanation{Allow: d.allow, Known: d.known}
	if c := s.m.client(username); c != nil {
		e.Disabled = c.disabled
	}
	if d.role != nil {
		e.Role = d.role.name
		if d.via != "client" {
			e.Via = d.via
		}
		e.ACLType = aclTypes[d.typ]
		e.Topic = d.acl.topic
		e.Priority = d.acl.priority
	} else if d.known && IsControlTopic(topic) {
		e.Control = true
	}
	return e
}

// String is the explanation as one or two lines of text.
func (e Explanation) String() string {
	verdict := "deny"
	if e.Allow {
		verdict = "allow"
	}
	var b strings.Builder
	switch {
	case !e.Known:
		fmt.Fprintf(&b, "%s: the username is not a client, and unknown usernames are always denied", verdict)
	case e.Role != "":
		from := "a role of the client"
		if e.Via != "" {
			from = fmt.Sprintf("a role of group %q", e.Via)
		}
		fmt.Fprintf(&b, "%s: role %q (%s), ACL %s %q priority %d", verdict, e.Role, from, e.ACLType, e.Topic, e.Priority)
	case e.Control:
		fmt.Fprintf(&b, "%s: no ACL matches, and $CONTROL topics are never allowed by default access", verdict)
	default:
		fmt.Fprintf(&b, "%s: no ACL matches, so default access decides", verdict)
	}
	if e.Disabled {
		b.WriteString("\nnote: the client is disabled and cannot connect")
	}
	return b.String()
}

// ParseAccess reads an access name: pub (publishClientSend), sub
// (subscribe), recv (publishClientReceive) or unsub (unsubscribe).
func ParseAccess(s string) (Access, error) {
	switch strings.ToLower(s) {
	case "pub", "publish", "publishclientsend":
		return PublishSend, nil
	case "sub", "subscribe":
		return Subscribe, nil
	case "recv", "receive", "publishclientreceive":
		return PublishReceive, nil
	case "unsub", "unsubscribe":
		return Unsubscribe, nil
	}
	return 0, fmt.Errorf("access %q is not pub, sub, recv or unsub", s)
}

// SnapshotRequest is the request that [FromSnapshot] turns into a store: the
// whole configuration read through the control API (passwords excepted).
var SnapshotRequest = []byte(`{"commands":[{"command":"getDefaultACLAccess"},{"command":"getAnonymousGroup"},` +
	`{"command":"listClients","verbose":true},{"command":"listGroups","verbose":true},{"command":"listRoles","verbose":true}]}`)

// FromSnapshot builds an in-memory store (without passwords) from the
// response to [SnapshotRequest], so that a live broker's configuration can
// be examined offline.
func FromSnapshot(payload []byte) (*Store, error) {
	v, err := parseJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("snapshot: %w", ErrInvalidJSON)
	}
	tree, _ := v.(obj)
	rs, _ := tree.Array("responses")
	data := map[string]obj{}
	for _, r := range rs {
		ro, _ := r.(obj)
		name, _ := ro.Str("command")
		if msg, ok := ro.Str("error"); ok {
			return nil, &CommandError{Command: name, Message: msg}
		}
		d, _ := ro.Obj("data")
		data[name] = d
	}
	for _, n := range []string{"getDefaultACLAccess", "getAnonymousGroup", "listClients", "listGroups", "listRoles"} {
		if data[n] == nil {
			return nil, fmt.Errorf("snapshot: no %s answer", n)
		}
	}
	da := obj{}
	acls, _ := data["getDefaultACLAccess"].Array("acls")
	for _, a := range acls {
		ao, _ := a.(obj)
		t, _ := ao.Str("acltype")
		da = append(da, member{t, ao.BoolOr("allow", false)})
	}
	clients, _ := data["listClients"].Array("clients")
	members := map[string][]any{}
	var fileClients []any
	for _, c := range clients {
		co, _ := c.(obj)
		name, _ := co.Str("username")
		groups, _ := co.Array("groups")
		for _, g := range groups {
			gobj, _ := g.(obj)
			gn, _ := gobj.Str("groupname")
			members[gn] = append(members[gn], obj{{"username", name}, {"priority", gobj.IntOr("priority", -1)}})
		}
		// The file names a client's groups on the group (members above).
		fc := obj{}
		for _, m := range co {
			if !asciiEqualFold(m.Key, "groups") {
				fc = append(fc, m)
			}
		}
		fileClients = append(fileClients, fc)
	}
	groups, _ := data["listGroups"].Array("groups")
	var fileGroups []any
	for _, g := range groups {
		gobj, _ := g.(obj)
		gn, _ := gobj.Str("groupname")
		roles, _ := gobj.Array("roles")
		fileGroups = append(fileGroups, obj{{"groupname", gn}, {"roles", roles}, {"clients", members[gn]}})
	}
	roles, _ := data["listRoles"].Array("roles")
	anonGroup, _ := data["getAnonymousGroup"].Obj("group")
	anon, _ := anonGroup.Str("groupname")
	file := obj{{"defaultACLAccess", da}, {"clients", orEmpty(fileClients)}, {"groups", orEmpty(fileGroups)}, {"anonymousGroup", anon}, {"roles", orEmpty(roles)}}
	return Parse(printJSON(file, false))
}

func orEmpty(a []any) []any {
	if a == nil {
		return []any{}
	}
	return a
}
