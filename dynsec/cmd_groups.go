package dynsec

// Group commands of the control API.

func cmdCreateGroup(s *Store, cmd obj) result {
	name, e := groupnameParam.read(cmd)
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
	if s.m.group(name) != nil {
		return fail("Group already exists")
	}
	g := &group{name: name, textName: textName, textDesc: textDesc}
	roles, present, e := s.readRoleList(cmd)
	if e != "" {
		if e == "Role not found" {
			return fail(e)
		}
		return fail("Internal error")
	}
	if present {
		g.roles = roles
	}
	s.m.addGroup(g)
	return result{changed: true}
}

func (s *Store) findGroup(cmd obj) (*group, string) {
	name, e := groupnameParam.read(cmd)
	if e != "" {
		return nil, e
	}
	g := s.m.group(name)
	if g == nil {
		return nil, "Group not found"
	}
	return g, ""
}

func cmdDeleteGroup(s *Store, cmd obj) result {
	g, e := s.findGroup(cmd)
	if e != "" {
		return fail(e)
	}
	// Mosquitto 2.0.11 deletes it and keeps a dangling anonymous group;
	// later 2.0 releases refuse, and so do we.
	if g == s.m.anon {
		return fail("Deleting the anonymous group is forbidden")
	}
	kicks := s.m.usersOfGroup(g)
	s.m.removeGroup(g)
	return result{changed: true, kicks: kicks}
}

func (g *group) json() obj {
	o := obj{{"groupname", g.name}}
	o = appendText(o, g.textName, g.textDesc)
	cl := make([]any, 0, len(g.clients))
	for _, mb := range g.clients {
		cl = append(cl, obj{{"username", mb.client.username}})
	}
	return append(o, member{"clients", cl}, member{"roles", roleRefsJSON(g.roles)})
}

func cmdGetGroup(s *Store, cmd obj) result {
	name, e := groupnameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	g := s.m.group(name)
	if g == nil {
		return result{err: "Group not found", alsoData: true}
	}
	return result{data: obj{{"group", g.json()}}}
}

func cmdListGroups(s *Store, cmd obj) result {
	verbose := cmd.BoolOr("verbose", false)
	list := []any{}
	for _, g := range page(s.m.groups, cmd) {
		if verbose {
			list = append(list, g.json())
		} else {
			list = append(list, g.name)
		}
	}
	return result{data: obj{{"totalCount", len(s.m.groups)}, {"groups", list}}}
}

func cmdModifyGroup(s *Store, cmd obj) result {
	g, e := s.findGroup(cmd)
	if e != "" {
		return fail(e)
	}
	roles, rolesPresent, e := s.readRoleList(cmd)
	if e != "" {
		return result{err: e, kicks: s.m.usersOfGroup(g)}
	}
	if v, ok := cmd.Str("textname"); ok {
		g.textName = &v
	}
	if v, ok := cmd.Str("textdescription"); ok {
		g.textDesc = &v
	}
	if rolesPresent {
		g.roles = roles
	}
	kicks := s.m.usersOfGroup(g)
	if clients, ok := cmd.Array("clients"); ok {
		for _, mb := range append([]membership(nil), g.clients...) {
			removeMember(mb.client, g)
		}
		for _, cv := range clients {
			o, ok := cv.(obj)
			if !ok {
				continue
			}
			un, ok := o.Str("username")
			if !ok {
				continue
			}
			if c := s.m.client(un); c != nil {
				addMember(c, g, o.IntOr("priority", -1))
			}
		}
		kicks = append(kicks, s.m.usersOfGroup(g)...)
	}
	return result{changed: true, kicks: kicks}
}

func cmdAddGroupClient(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	groupname, e := groupnameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	g := s.m.group(groupname)
	if g == nil {
		return fail("Group not found")
	}
	if !addMember(c, g, cmd.IntOr("priority", -1)) {
		return fail("Client is already in this group")
	}
	return result{changed: true, kicks: []string{username}}
}

func cmdRemoveGroupClient(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	groupname, e := groupnameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	g := s.m.group(groupname)
	if g == nil {
		return fail("Group not found")
	}
	removeMember(c, g)
	return result{changed: true, kicks: []string{username}}
}

func cmdAddGroupRole(s *Store, cmd obj) result {
	groupname, e := groupnameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	rolename, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	g := s.m.group(groupname)
	if g == nil {
		return fail("Group not found")
	}
	r := s.m.role(rolename)
	if r == nil {
		return fail("Role not found")
	}
	list, ok := addRoleRef(g.roles, r, cmd.IntOr("priority", -1))
	if !ok {
		return fail("Group is already in this role")
	}
	g.roles = list
	return result{changed: true, kicks: s.m.usersOfGroup(g)}
}

func cmdRemoveGroupRole(s *Store, cmd obj) result {
	groupname, e := groupnameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	rolename, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	g := s.m.group(groupname)
	if g == nil {
		return fail("Group not found")
	}
	r := s.m.role(rolename)
	if r == nil {
		return fail("Role not found")
	}
	g.roles = removeRoleRef(g.roles, r)
	return result{changed: true, kicks: s.m.usersOfGroup(g)}
}

func cmdSetAnonymousGroup(s *Store, cmd obj) result {
	g, e := s.findGroup(cmd)
	if e != "" {
		return fail(e)
	}
	s.m.anon = g
	return result{changed: true, kicks: []string{""}}
}

func cmdGetAnonymousGroup(s *Store, _ obj) result {
	name := ""
	if s.m.anon != nil {
		name = s.m.anon.name
	}
	return result{data: obj{{"group", obj{{"groupname", name}}}}}
}
