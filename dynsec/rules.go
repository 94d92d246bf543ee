package dynsec

// Rule is one ACL of a client as the decision meets it.
type Rule struct {
	Type  string // the acltype, e.g. "publishClientSend"
	Topic string // as written, with %u and %c levels
	Allow bool
	Role  string
	// Via is "" for the client's own roles, else the group the role came
	// through (for an anonymous client, the anonymous group).
	Via string
}

// Rules returns the ACLs of client username ("" for an anonymous client)
// in the order [Store.Allow] tries them: the client's roles, then each
// group's, by priority; in each role the ACL types in the file's order
// (so subscribeLiteral before subscribePattern) and each type's ACLs by
// priority. For one access, the first Rule of its types that matches
// decides; when none does, [Store.Defaults] does. ok is false for an
// unknown username.
func (s *Store) Rules(username string) (rules []Rule, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	src, known := s.m.sources(username)
	if !known {
		return nil, false
	}
	for _, sc := range src {
		via := sc.via
		if username != "" && via == "client" {
			via = ""
		}
		for _, rr := range sc.roles {
			for typ, acls := range rr.role.acls {
				for _, a := range acls {
					rules = append(rules, Rule{Type: aclTypes[typ], Topic: a.topic, Allow: a.allow, Role: rr.role.name, Via: via})
				}
			}
		}
	}
	return rules, true
}
