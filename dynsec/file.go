package dynsec

// The dynamic-security.json file, read and written as Mosquitto 2.0's plugin
// does: load order defaultACLAccess, roles, clients, groups; entries with a
// missing name are skipped, references to unknown roles, groups or clients
// are dropped, the first of two entries with the same name wins. Saving
// writes <file>.new (0600) and renames it over the file.

import (
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"mqtls/internal/cjson"
	"mqtls/internal/fileio"
)

// maxFileSize bounds what Load reads.
const maxFileSize = 64 << 20

// ReadFile reads a dynamic-security.json file's bytes for [Parse], refusing
// one larger than 64 MiB (a wrong path, or a file grown without bound)
// before reading it.
func ReadFile(path string) ([]byte, error) {
	return fileio.ReadFile(path, maxFileSize, "a dynamic security file")
}

// ErrInvalidJSON is the load error for a file that is not JSON (Mosquitto:
// "File is not valid JSON").
var ErrInvalidJSON = errors.New("file is not valid JSON")

// Load reads a dynamic-security.json file. Keys are matched ignoring case;
// an empty file is an empty configuration with all default access denied.
// The returned store saves every change back to path.
func Load(path string) (*Store, error) {
	data, err := ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("load dynamic security config: %w", err)
	}
	m, err := parseConfig(data)
	var ps problems
	if errors.As(err, &ps) {
		return nil, ps.in(path)
	}
	if err != nil {
		return nil, fmt.Errorf("load dynamic security config %s: %w", path, err)
	}
	s := newStore(m)
	s.path = path
	return s, nil
}

// Parse reads a configuration from memory; the store it returns saves
// nowhere (changes stay in memory).
func Parse(data []byte) (*Store, error) {
	m, err := parseConfig(data)
	if err != nil {
		return nil, fmt.Errorf("parse dynamic security config: %w", err)
	}
	return newStore(m), nil
}

func parseConfig(data []byte) (*model, error) {
	m := &model{}
	if len(data) == 0 {
		return m, nil
	}
	v, err := parseJSON(data)
	if err != nil {
		return nil, ErrInvalidJSON
	}
	tree, ok := v.(obj)
	if !ok {
		// cJSON loads a non-object as a tree with no members.
		return m, nil
	}
	if err := checkConfig(tree); err != nil {
		return nil, err
	}
	if da, ok := tree.Obj("defaultACLAccess"); ok {
		m.defaults = DefaultAccess{
			PublishClientSend:    da.BoolOr(ACLPublishClientSend, false),
			PublishClientReceive: da.BoolOr(ACLPublishClientReceive, false),
			Subscribe:            da.BoolOr("subscribe", false),
			Unsubscribe:          da.BoolOr("unsubscribe", false),
		}
	}
	if err := loadRoles(m, tree); err != nil {
		return nil, err
	}
	if err := loadClients(m, tree); err != nil {
		return nil, err
	}
	if err := loadGroups(m, tree); err != nil {
		return nil, err
	}
	return m, nil
}

// list returns the array under key; a present non-array is an error, as in
// the plugin.
func list(tree obj, key string) ([]any, error) {
	if !tree.Has(key) {
		return nil, nil
	}
	a, ok := tree.Array(key)
	if !ok {
		return nil, fmt.Errorf("%q is not an array", key)
	}
	return a, nil
}

func optString(o obj, key string) *string {
	if s, ok := o.Str(key); ok {
		return &s
	}
	return nil
}

func loadRoles(m *model, tree obj) error {
	items, err := list(tree, "roles")
	if err != nil {
		return err
	}
	for _, it := range items {
		o, ok := it.(obj)
		if !ok {
			continue
		}
		name, ok := o.Str("rolename")
		if !ok || m.role(name) != nil {
			continue
		}
		r := &role{name: name, textName: optString(o, "textname"), textDesc: optString(o, "textdescription")}
		if acls, ok := o.Array("acls"); ok {
			r.acls = parseACLs(acls)
		}
		m.addRole(r)
	}
	return nil
}

// parseACLs reads an "acls" array as the plugin does, one type at a time:
// priority defaults to 0, allow to false, entries without a string topic
// are skipped, and a repeated topic within a type keeps the first.
func parseACLs(items []any) [numACLTypes][]acl {
	var out [numACLTypes][]acl
	for t := range numACLTypes {
		for _, it := range items {
			o, ok := it.(obj)
			if !ok {
				continue
			}
			at, ok := o.Str("acltype")
			if !ok || aclTypeIndex(at) != t {
				continue
			}
			topic, ok := o.Str("topic")
			if !ok {
				continue
			}
			out[t], _ = addACL(out[t], acl{topic: topic, priority: o.IntOr("priority", 0), allow: o.BoolOr("allow", false)})
		}
	}
	return out
}

func loadClients(m *model, tree obj) error {
	items, err := list(tree, "clients")
	if err != nil {
		return err
	}
	for _, it := range items {
		o, ok := it.(obj)
		if !ok {
			continue
		}
		name, ok := o.Str("username")
		if !ok || m.client(name) != nil {
			continue
		}
		c := &client{username: name, disabled: o.BoolOr("disabled", false)}
		salt, okS := o.Str("salt")
		hash, okP := o.Str("password")
		iter, okI := o.Get("iterations").(float64)
		if okS && okP && okI {
			pw, ok := decodePassword(hash, salt, cInt(iter))
			if !ok {
				continue // Mosquitto skips the whole client
			}
			c.pw = pw
		}
		if id, ok := o.Str("clientid"); ok {
			c.clientID = id
		}
		c.textName = optString(o, "textname")
		c.textDesc = optString(o, "textdescription")
		if roles, ok := o.Array("roles"); ok {
			for _, rv := range roles {
				ro, ok := rv.(obj)
				if !ok {
					continue
				}
				rn, ok := ro.Str("rolename")
				if !ok {
					continue
				}
				if r := m.role(rn); r != nil {
					c.roles, _ = addRoleRef(c.roles, r, ro.IntOr("priority", -1))
				}
			}
		}
		m.addClient(c)
	}
	return nil
}

func decodePassword(hash, salt string, iterations int) (*password, bool) {
	if iterations < 1 {
		return nil, false
	}
	s, err := base64.StdEncoding.DecodeString(salt)
	if err != nil || len(s) != saltLen {
		return nil, false
	}
	h, err := base64.StdEncoding.DecodeString(hash)
	if err != nil || len(h) != hashLen {
		return nil, false
	}
	return &password{hash: h, salt: s, iterations: iterations}, true
}

func loadGroups(m *model, tree obj) error {
	items, err := list(tree, "groups")
	if err != nil {
		return err
	}
	for _, it := range items {
		o, ok := it.(obj)
		if !ok {
			continue
		}
		name, ok := o.Str("groupname")
		if !ok || m.group(name) != nil {
			continue
		}
		g := &group{name: name, textName: optString(o, "textname"), textDesc: optString(o, "textdescription")}
		if roles, ok := o.Array("roles"); ok {
			for _, rv := range roles {
				ro, ok := rv.(obj)
				if !ok {
					continue
				}
				rn, ok := ro.Str("rolename")
				if !ok {
					continue
				}
				if r := m.role(rn); r != nil {
					g.roles, _ = addRoleRef(g.roles, r, ro.IntOr("priority", -1))
				}
			}
		}
		m.addGroup(g)
		if clients, ok := o.Array("clients"); ok {
			for _, cv := range clients {
				co, ok := cv.(obj)
				if !ok {
					continue
				}
				un, ok := co.Str("username")
				if !ok {
					continue
				}
				if c := m.client(un); c != nil {
					addMember(c, g, co.IntOr("priority", -1))
				}
			}
		}
	}
	if name, ok := tree.Str("anonymousGroup"); ok {
		m.anon = m.group(name)
	}
	return nil
}

// encode renders the model as the plugin saves it.
func (m *model) encode() []byte {
	da := obj{
		{ACLPublishClientSend, m.defaults.PublishClientSend},
		{ACLPublishClientReceive, m.defaults.PublishClientReceive},
		{"subscribe", m.defaults.Subscribe},
		{"unsubscribe", m.defaults.Unsubscribe},
	}
	clients := make([]any, 0, len(m.clients))
	m.encMu.Lock()
	if m.enc == nil {
		m.enc = make(map[*client][]byte, len(m.clients))
	}
	for _, c := range m.clients {
		b, ok := m.enc[c]
		if !ok {
			// Depth 2: the document, then its "clients" array.
			b = cjson.PrintAt(c.fileJSON(), true, 2)
			m.enc[c] = b
		}
		clients = append(clients, cjson.Raw(b))
	}
	if len(m.enc) > len(m.clients) {
		// Deleted clients drop the map (exec), so this does not happen;
		// never let it grow past the model in any case.
		m.enc = nil
	}
	m.encMu.Unlock()
	groups := make([]any, 0, len(m.groups))
	for _, g := range m.groups {
		o := obj{{"groupname", g.name}}
		o = appendText(o, g.textName, g.textDesc)
		cl := make([]any, 0, len(g.clients))
		for _, mb := range g.clients {
			e := obj{{"username", mb.client.username}}
			if mb.priority != -1 {
				e = append(e, member{"priority", mb.priority})
			}
			cl = append(cl, e)
		}
		o = append(o, member{"roles", roleRefsJSON(g.roles)}, member{"clients", cl})
		groups = append(groups, o)
	}
	tree := obj{{"defaultACLAccess", da}, {"clients", clients}, {"groups", groups}}
	if m.anon != nil {
		tree = append(tree, member{"anonymousGroup", m.anon.name})
	}
	roles := make([]any, 0, len(m.roles))
	for _, r := range m.roles {
		roles = append(roles, r.json())
	}
	tree = append(tree, member{"roles", roles})
	return printJSON(tree, true)
}

// fileJSON is a client as the file holds it.
func (c *client) fileJSON() obj {
	o := c.json(false)
	if c.pw != nil {
		o = append(o,
			member{"password", base64.StdEncoding.EncodeToString(c.pw.hash)},
			member{"salt", base64.StdEncoding.EncodeToString(c.pw.salt)},
			member{"iterations", c.pw.iterations})
	}
	return o
}

func appendText(o obj, name, desc *string) obj {
	if name != nil {
		o = append(o, member{"textname", *name})
	}
	if desc != nil {
		o = append(o, member{"textdescription", *desc})
	}
	return o
}

// json is a client as getClient shows it (withGroups) or as the file holds
// it before the password fields.
func (c *client) json(withGroups bool) obj {
	o := obj{{"username", c.username}}
	if c.clientID != "" {
		o = append(o, member{"clientid", c.clientID})
	}
	o = appendText(o, c.textName, c.textDesc)
	if c.disabled {
		o = append(o, member{"disabled", true})
	}
	o = append(o, member{"roles", roleRefsJSON(c.roles)})
	if withGroups {
		gl := make([]any, 0, len(c.groups))
		for _, gr := range c.groups {
			e := obj{{"groupname", gr.group.name}}
			if gr.priority != -1 {
				e = append(e, member{"priority", gr.priority})
			}
			gl = append(gl, e)
		}
		o = append(o, member{"groups", gl})
	}
	return o
}

func roleRefsJSON(list []roleRef) []any {
	out := make([]any, 0, len(list))
	for _, rr := range list {
		e := obj{{"rolename", rr.role.name}}
		if rr.priority != -1 {
			e = append(e, member{"priority", rr.priority})
		}
		out = append(out, e)
	}
	return out
}

func (r *role) json() obj {
	o := obj{{"rolename", r.name}}
	o = appendText(o, r.textName, r.textDesc)
	acls := []any{}
	for t, l := range r.acls {
		for _, a := range l {
			acls = append(acls, obj{{"acltype", aclTypes[t]}, {"topic", a.topic}, {"priority", a.priority}, {"allow", a.allow}})
		}
	}
	return append(o, member{"acls", acls})
}

// save writes the model to path through path+".new", as Mosquitto does.
func saveFile(path string, data []byte) error {
	if err := fileio.WriteFileVia(path, path+".new", data, 0o600); err != nil {
		return fmt.Errorf("save dynamic security config: %w", err)
	}
	return nil
}

// Init writes a new dynamic-security.json like `mosquitto_ctrl dynsec init`:
// one client adminUser with role "admin", whose ACLs allow the
// $CONTROL/dynamic-security API, $SYS and receiving and subscribing to
// everything (but not publishing), and default access publishClientSend
// deny, publishClientReceive allow, subscribe deny, unsubscribe allow. It
// refuses to overwrite an existing file. The file is 0600.
func Init(path, adminUser string, adminPassword []byte) error {
	if adminUser == "" {
		return errors.New("dynsec init: admin username is empty")
	}
	if len(adminPassword) == 0 {
		return errors.New("dynsec init: admin password is empty")
	}
	pw, err := hashPassword(adminPassword, DefaultIterations)
	if err != nil {
		return fmt.Errorf("dynsec init: %w", err)
	}
	aclsJSON := []any{}
	for _, a := range [][2]string{
		{ACLPublishClientSend, "$CONTROL/dynamic-security/#"},
		{ACLPublishClientReceive, "$CONTROL/dynamic-security/#"},
		{ACLSubscribePattern, "$CONTROL/dynamic-security/#"},
		{ACLPublishClientReceive, "$SYS/#"},
		{ACLSubscribePattern, "$SYS/#"},
		{ACLPublishClientReceive, "#"},
		{ACLSubscribePattern, "#"},
		{ACLUnsubscribePattern, "#"},
	} {
		aclsJSON = append(aclsJSON, obj{{"acltype", a[0]}, {"topic", a[1]}, {"allow", true}})
	}
	tree := obj{
		{"clients", []any{obj{
			{"username", adminUser},
			{"textName", "Dynsec admin user"},
			{"password", base64.StdEncoding.EncodeToString(pw.hash)},
			{"salt", base64.StdEncoding.EncodeToString(pw.salt)},
			{"iterations", pw.iterations},
			{"roles", []any{obj{{"rolename", "admin"}}}},
		}}},
		{"roles", []any{obj{{"rolename", "admin"}, {"acls", aclsJSON}}}},
		{"defaultACLAccess", obj{
			{ACLPublishClientSend, false},
			{ACLPublishClientReceive, true},
			{"subscribe", false},
			{"unsubscribe", true},
		}},
	}
	return createExclusive(path, printJSON(tree, true))
}

// createExclusive writes data to a new file at path, 0600, atomically, and
// fails if path exists (a hard link cannot replace a file).
func createExclusive(path string, data []byte) error {
	if _, err := os.Lstat(path); err == nil {
		return fmt.Errorf("dynsec init: %s already exists: remove it or choose another path", path)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("dynsec init: %w", err)
	}
	name := tmp.Name()
	defer os.Remove(name)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("dynsec init: %w", err)
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("dynsec init: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("dynsec init: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("dynsec init: %w", err)
	}
	if err := os.Link(name, path); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("dynsec init: %s already exists: remove it or choose another path", path)
		}
		return fmt.Errorf("dynsec init: %w", err)
	}
	return nil
}
