package dynsec

// Client commands of the control API. Each handler runs with Store.mu held
// for writing and changes the model only when it succeeds.

var (
	usernameParam  = param{"username", "Invalid/missing username", "Username not valid UTF-8"}
	groupnameParam = param{"groupname", "Invalid/missing groupname", "Group name not valid UTF-8"}
	rolenameParam  = param{"rolename", "Invalid/missing rolename", "Role name not valid UTF-8"}
)

// param is a required name parameter and Mosquitto's two errors for it.
type param struct{ key, missing, badUTF8 string }

func (p param) read(cmd obj) (string, string) {
	v, ok := cmd.Str(p.key)
	if !ok {
		return "", p.missing
	}
	if !validUTF8(v) {
		return "", p.badUTF8
	}
	return v, ""
}

func cmdCreateClient(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	pw, hasPW, ok := cmd.StrOpt("password")
	if !ok {
		return fail("Invalid/missing password")
	}
	clientID, _, ok := cmd.StrOpt("clientid")
	if !ok {
		return fail("Invalid/missing client id")
	}
	if !validUTF8(clientID) {
		return fail("Client ID not valid UTF-8")
	}
	textName, ok := optText(cmd, "textname")
	if !ok {
		return fail("Invalid/missing textname")
	}
	textDesc, ok := optText(cmd, "textdescription")
	if !ok {
		return fail("Invalid/missing textdescription")
	}
	if s.m.client(username) != nil {
		return fail("Client already exists")
	}
	c := &client{username: username, clientID: clientID, textName: textName, textDesc: textDesc}
	roles, present, e := s.readRoleList(cmd)
	if e != "" {
		return fail(e)
	}
	if present {
		c.roles = roles
	}
	type join struct {
		g    *group
		prio int
	}
	var joins []join
	if groups, ok := cmd.Array("groups"); ok {
		seen := map[*group]bool{}
		for _, gv := range groups {
			gobj, ok := gv.(obj)
			if !ok {
				continue
			}
			gn, ok := gobj.Str("groupname")
			if !ok {
				continue
			}
			g := s.m.group(gn)
			if g == nil {
				return fail("Group not found")
			}
			if seen[g] {
				return fail("Internal error")
			}
			seen[g] = true
			joins = append(joins, join{g, gobj.IntOr("priority", -1)})
		}
	}
	if hasPW {
		p, err := hashPassword([]byte(pw), s.iterations)
		if err != nil {
			return fail("Internal error")
		}
		c.pw = p
	}
	s.m.addClient(c)
	for _, j := range joins {
		addMember(c, j.g, j.prio)
	}
	return result{changed: true}
}

// optText reads an optional string; ok is false when it has another type.
func optText(cmd obj, key string) (*string, bool) {
	v, present, ok := cmd.StrOpt(key)
	if !ok {
		return nil, false
	}
	if !present {
		return nil, true
	}
	return &v, true
}

// readRoleList reads a "roles" array of {rolename, priority} (the plugin's
// dynsec_rolelist__load_from_json).
func (s *Store) readRoleList(cmd obj) (list []roleRef, present bool, errMsg string) {
	if !cmd.Has("roles") {
		return nil, false, ""
	}
	items, ok := cmd.Array("roles")
	if !ok {
		return nil, true, "'roles' not an array or missing/invalid rolename"
	}
	list = []roleRef{}
	for _, it := range items {
		o, _ := it.(obj)
		rn, ok := o.Str("rolename")
		if !ok {
			return nil, true, "'roles' not an array or missing/invalid rolename"
		}
		r := s.m.role(rn)
		if r == nil {
			return nil, true, "Role not found"
		}
		list, _ = addRoleRef(list, r, o.IntOr("priority", -1))
	}
	return list, true, ""
}

func (s *Store) findClient(cmd obj) (*client, string) {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return nil, e
	}
	c := s.m.client(username)
	if c == nil {
		return nil, "Client not found"
	}
	return c, ""
}

func cmdDeleteClient(s *Store, cmd obj) result {
	username, ok := cmd.Str("username")
	if !ok {
		return fail("Invalid/missing username")
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	s.m.removeClient(c)
	return result{changed: true, kicks: []string{username}}
}

func cmdEnableClient(s *Store, cmd obj) result {
	c, e := s.findClient(cmd)
	if e != "" {
		return fail(e)
	}
	c.disabled = false
	return result{changed: true}
}

func cmdDisableClient(s *Store, cmd obj) result {
	c, e := s.findClient(cmd)
	if e != "" {
		return fail(e)
	}
	c.disabled = true
	return result{changed: true, kicks: []string{c.username}}
}

func cmdGetClient(s *Store, cmd obj) result {
	c, e := s.findClient(cmd)
	if e != "" {
		return fail(e)
	}
	return result{data: obj{{"client", c.json(true)}}}
}

func cmdListClients(s *Store, cmd obj) result {
	verbose := cmd.BoolOr("verbose", false)
	list := []any{}
	for _, c := range page(s.m.clients, cmd) {
		if verbose {
			list = append(list, c.json(true))
		} else {
			list = append(list, c.username)
		}
	}
	return result{data: obj{{"totalCount", len(s.m.clients)}, {"clients", list}}}
}

// page applies the plugin's count (default -1 = all) and offset (default 0).
func page[T any](all []T, cmd obj) []T {
	count := cmd.IntOr("count", -1)
	offset := cmd.IntOr("offset", 0)
	if offset < 0 {
		offset = 0
	}
	if offset >= len(all) {
		return nil
	}
	rest := all[offset:]
	if count == 0 {
		// The plugin adds one entry before it checks the count.
		count = 1
	}
	if count > 0 && count < len(rest) {
		rest = rest[:count]
	}
	return rest
}

func cmdModifyClient(s *Store, cmd obj) result {
	c, e := s.findClient(cmd)
	if e != "" {
		return fail(e)
	}
	roles, rolesPresent, e := s.readRoleList(cmd)
	if e != "" {
		return result{err: e, kicks: []string{c.username}}
	}
	var newPW *password
	if pw, ok := cmd.Str("password"); ok && pw != "" {
		p, err := hashPassword([]byte(pw), s.iterations)
		if err != nil {
			return fail("Internal error")
		}
		newPW = p
	}
	if id, ok := cmd.Str("clientid"); ok {
		c.clientID = id
	}
	if newPW != nil {
		c.pw = newPW
	}
	if v, ok := cmd.Str("textname"); ok {
		c.textName = &v
	}
	if v, ok := cmd.Str("textdescription"); ok {
		c.textDesc = &v
	}
	if rolesPresent {
		c.roles = roles
	}
	if groups, ok := cmd.Array("groups"); ok {
		for _, gr := range append([]groupRef(nil), c.groups...) {
			removeMember(c, gr.group)
		}
		for _, gv := range groups {
			o, ok := gv.(obj)
			if !ok {
				continue
			}
			gn, ok := o.Str("groupname")
			if !ok {
				continue
			}
			// Mosquitto 2.0.11 skips groups that do not exist.
			if g := s.m.group(gn); g != nil {
				addMember(c, g, o.IntOr("priority", -1))
			}
		}
	}
	return result{changed: true, kicks: []string{c.username}}
}

func cmdSetClientPassword(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	pw, ok := cmd.Str("password")
	if !ok {
		return fail("Invalid/missing password")
	}
	if pw == "" {
		return fail("Empty password is not allowed")
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	p, err := hashPassword([]byte(pw), s.iterations)
	if err != nil {
		return fail("Internal error")
	}
	c.pw = p
	return result{changed: true, kicks: []string{username}}
}

func cmdSetClientID(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	id, _, ok := cmd.StrOpt("clientid")
	if !ok {
		return fail("Invalid/missing client ID")
	}
	if !validUTF8(id) {
		return fail("Client ID not valid UTF-8")
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	c.clientID = id
	return result{changed: true, kicks: []string{username}}
}

func cmdAddClientRole(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	rolename, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	r := s.m.role(rolename)
	if r == nil {
		return fail("Role not found")
	}
	list, ok := addRoleRef(c.roles, r, cmd.IntOr("priority", -1))
	if !ok {
		// Mosquitto 2.0 answers this way when the client already has the role.
		return fail("Internal error")
	}
	c.roles = list
	return result{changed: true, kicks: []string{username}}
}

func cmdRemoveClientRole(s *Store, cmd obj) result {
	username, e := usernameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	rolename, e := rolenameParam.read(cmd)
	if e != "" {
		return fail(e)
	}
	c := s.m.client(username)
	if c == nil {
		return fail("Client not found")
	}
	r := s.m.role(rolename)
	if r == nil {
		return fail("Role not found")
	}
	c.roles = removeRoleRef(c.roles, r)
	return result{changed: true, kicks: []string{username}}
}
