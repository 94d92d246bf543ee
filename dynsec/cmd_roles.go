package dynsec

// Role commands and default access of the control API.

import (
	"strings"
	"unicode/utf8"
)

func cmdCreateRole(s *Store, cmd obj) result {
	name, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	textName, ok := optText(cmd, "textname")
	if !ok {
		return fail("Invalid/missing textname")
	}
	textDesc, ok := optText(cmd, "textdescription")
	if !ok {
		return fail("Invalid/missing textdescription")
	}
	if s.m.role(name) != nil {
		return fail("Role already exists")
	}
	r := &role{name: name, textName: textName, textDesc: textDesc}
	// Mosquitto does not validate the topics of ACLs given here.
	if acls, ok := cmd.Array("acls"); ok {
		r.acls = parseACLs(acls)
	}
	s.m.addRole(r)
	return result{changed: true}
}

func (s *Store) findRole(cmd obj) (*role, string) {
	name, e := rolenameParam.read(cmd)
	if e != "" {
		return nil, e
	}
	r := s.m.role(name)
	if r == nil {
		return nil, "Role not found"
	}
	return r, ""
}

func cmdDeleteRole(s *Store, cmd obj) result {
	r, e := s.findRole(cmd)
	if e != "" {
		return fail(e)
	}
	kicks := s.m.usersOfRole(r)
	s.m.removeRole(r)
	return result{changed: true, kicks: kicks}
}

func cmdGetRole(s *Store, cmd obj) result {
	r, e := s.findRole(cmd)
	if e != "" {
		return fail(e)
	}
	return result{data: obj{{"role", r.json()}}}
}

func cmdListRoles(s *Store, cmd obj) result {
	verbose := cmd.BoolOr("verbose", false)
	list := []any{}
	for _, r := range page(s.m.roles, cmd) {
		if verbose {
			list = append(list, r.json())
		} else {
			list = append(list, r.name)
		}
	}
	return result{data: obj{{"totalCount", len(s.m.roles)}, {"roles", list}}}
}

func cmdModifyRole(s *Store, cmd obj) result {
	name, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	r := s.m.role(name)
	if r == nil {
		return fail("Role does not exist")
	}
	if v, ok := cmd.Str("textname"); ok {
		r.textName = &v
	}
	if v, ok := cmd.Str("textdescription"); ok {
		r.textDesc = &v
	}
	var kicks []string
	if acls, ok := cmd.Array("acls"); ok {
		r.acls = parseACLs(acls)
		// Mosquitto 2.0.11 does not kick here; later releases do, and the
		// rights of the role's users changed.
		kicks = s.m.usersOfRole(r)
	}
	return result{changed: true, kicks: kicks}
}

// aclParams reads the role, acltype and topic of addRoleACL/removeRoleACL.
func (s *Store) aclParams(cmd obj) (r *role, typ int, topic string, errMsg string) {
	r, e := s.findRole(cmd)
	if e != "" {
		return nil, 0, "", e
	}
	at, ok := cmd.Str("acltype")
	if !ok {
		return nil, 0, "", "Invalid/missing acltype"
	}
	typ = aclTypeIndex(at)
	if typ < 0 {
		return nil, 0, "", "Unknown acltype"
	}
	topic, ok = cmd.Str("topic")
	if !ok {
		return nil, 0, "", "Invalid/missing topic"
	}
	if !validUTF8(topic) {
		return nil, 0, "", "Topic not valid UTF-8"
	}
	if !subTopicCheck(topic) {
		return nil, 0, "", "Invalid ACL topic"
	}
	return r, typ, topic, ""
}

func cmdAddRoleACL(s *Store, cmd obj) result {
	r, typ, topic, e := s.aclParams(cmd)
	if e != "" {
		return fail(e)
	}
	list, ok := addACL(r.acls[typ], acl{topic: topic, priority: cmd.IntOr("priority", 0), allow: cmd.BoolOr("allow", false)})
	if !ok {
		return fail("ACL with this topic already exists")
	}
	r.acls[typ] = list
	return result{changed: true, kicks: s.m.usersOfRole(r)}
}

func cmdRemoveRoleACL(s *Store, cmd obj) result {
	r, typ, topic, e := s.aclParams(cmd)
	if e != "" {
		return fail(e)
	}
	for i, a := range r.acls[typ] {
		if a.topic == topic {
			r.acls[typ] = append(r.acls[typ][:i:i], r.acls[typ][i+1:]...)
			return result{changed: true, kicks: s.m.usersOfRole(r)}
		}
	}
	return fail("ACL not found")
}

func cmdSetDefaultACLAccess(s *Store, cmd obj) result {
	acls, ok := cmd.Array("acls")
	if !ok {
		return fail("Missing/invalid actions array")
	}
	d := &s.m.defaults
	for _, it := range acls {
		o, _ := it.(obj)
		at, ok1 := o.Str("acltype")
		allow, ok2 := o.Get("allow").(bool)
		if !o.Has("allow") {
			// mosquitto_ctrl 2.0 sends "access":"allow"|"deny", which
			// Mosquitto ignores; we honour it.
			switch a, _ := o.Str("access"); {
			case asciiEqualFold(a, "allow"):
				allow, ok2 = true, true
			case asciiEqualFold(a, "deny"):
				allow, ok2 = false, true
			}
		}
		if !ok1 || !ok2 {
			continue
		}
		switch {
		case asciiEqualFold(at, ACLPublishClientSend):
			d.PublishClientSend = allow
		case asciiEqualFold(at, ACLPublishClientReceive):
			d.PublishClientReceive = allow
		case asciiEqualFold(at, "subscribe"):
			d.Subscribe = allow
		case asciiEqualFold(at, "unsubscribe"):
			d.Unsubscribe = allow
		}
	}
	return result{changed: true}
}

func cmdGetDefaultACLAccess(s *Store, _ obj) result {
	d := s.m.defaults
	return result{data: obj{{"acls", []any{
		obj{{"acltype", ACLPublishClientSend}, {"allow", d.PublishClientSend}},
		obj{{"acltype", ACLPublishClientReceive}, {"allow", d.PublishClientReceive}},
		obj{{"acltype", "subscribe"}, {"allow", d.Subscribe}},
		obj{{"acltype", "unsubscribe"}, {"allow", d.Unsubscribe}},
	}}}}
}

// subTopicCheck is the broker's mosquitto_sub_topic_check: '+' and '#' must
// fill a level, '#' must be last, at most 65535 bytes and 200 '/'. The empty
// topic passes.
func subTopicCheck(t string) bool {
	if len(t) > 65535 || strings.Count(t, "/") > 200 {
		return false
	}
	for i := 0; i < len(t); i++ {
		prevOK := i == 0 || t[i-1] == '/'
		switch t[i] {
		case '+':
			if !prevOK || (i+1 < len(t) && t[i+1] != '/') {
				return false
			}
		case '#':
			if !prevOK || i+1 != len(t) {
				return false
			}
		}
	}
	return true
}

// validUTF8 is mosquitto_validate_utf8: well-formed UTF-8 of at most 65536
// bytes without NUL, control characters (U+0001-U+001F, U+007F-U+009F),
// surrogates or non-characters.
func validUTF8(s string) bool {
	if len(s) > 65536 {
		return false
	}
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			return false // invalid encoding, surrogate or overlong form
		}
		i += n
		switch {
		case r <= 0x1F, r >= 0x7F && r <= 0x9F:
			return false
		case r >= 0xFDD0 && r <= 0xFDEF:
			return false
		case r&0xFFFF == 0xFFFE || r&0xFFFF == 0xFFFF:
			return false
		}
	}
	return true
}
