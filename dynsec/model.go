package dynsec

import (
	"cmp"
	"slices"
	"strings"
	"sync"
)

// The in-memory model mirrors the plugin's: every list is kept in the order
// Mosquitto iterates it, so evaluation and saving walk the slices as they are.
// Role lists and group lists are sorted by priority, highest first, ties by
// name (strcmp); ACLs by priority, highest first, ties in insertion order;
// clients, groups and roles by name.

// ACL types as they appear in the file and the $CONTROL API.
const (
	ACLPublishClientSend    = "publishClientSend"
	ACLPublishClientReceive = "publishClientReceive"
	ACLSubscribeLiteral     = "subscribeLiteral"
	ACLSubscribePattern     = "subscribePattern"
	ACLUnsubscribeLiteral   = "unsubscribeLiteral"
	ACLUnsubscribePattern   = "unsubscribePattern"
)

// aclTypes is the saving order of ACL types.
var aclTypes = [numACLTypes]string{
	ACLPublishClientSend, ACLPublishClientReceive,
	ACLSubscribeLiteral, ACLSubscribePattern,
	ACLUnsubscribeLiteral, ACLUnsubscribePattern,
}

const (
	aclSend = iota
	aclRecv
	aclSubLiteral
	aclSubPattern
	aclUnsubLiteral
	aclUnsubPattern
	numACLTypes
)

// ACLTypes returns the ACL types in the order the file lists them.
func ACLTypes() []string { return append([]string(nil), aclTypes[:]...) }

// IsACLType reports whether s is an ACL type, in any ASCII case (as the
// plugin compares them).
func IsACLType(s string) bool { return aclTypeIndex(s) >= 0 }

// aclTypeIndex maps an acltype (any ASCII case) to its index, or -1.
func aclTypeIndex(s string) int {
	for i, t := range aclTypes {
		if asciiEqualFold(s, t) {
			return i
		}
	}
	return -1
}

// DefaultAccess is what a known client may do when no ACL of its roles
// matches ("defaultACLAccess" in the file).
type DefaultAccess struct {
	PublishClientSend    bool
	PublishClientReceive bool
	Subscribe            bool
	Unsubscribe          bool
}

type password struct {
	hash       []byte // 64 bytes
	salt       []byte // 12 bytes
	iterations int
}

type client struct {
	username string
	clientID string // "" = not pinned
	textName *string
	textDesc *string
	disabled bool
	pw       *password // nil: cannot log in with a password
	roles    []roleRef
	groups   []groupRef
}

type roleRef struct {
	role     *role
	priority int
}

type groupRef struct {
	group    *group
	priority int
}

type membership struct {
	client   *client
	priority int
}

type group struct {
	name     string
	textName *string
	textDesc *string
	roles    []roleRef
	clients  []membership // sorted by username
}

type acl struct {
	topic    string
	priority int
	allow    bool
}

type role struct {
	name     string
	textName *string
	textDesc *string
	acls     [numACLTypes][]acl
}

// model is the whole configuration. It is only touched under Store.mu.
type model struct {
	defaults DefaultAccess
	clients  []*client // sorted by username
	groups   []*group  // sorted by name
	roles    []*role   // sorted by name
	anon     *group

	// enc holds each client's object as the file prints it, so that a
	// save after createClient commands (enrollments) prints only the new
	// clients and copies the others: the file is rewritten whole, but not
	// re-encoded whole. It is valid only while every change since it was
	// filled is a createClient (which adds a client and touches no other
	// client's object); exec drops it on any other change. encMu guards
	// it: encode runs under the store's read lock.
	encMu sync.Mutex
	enc   map[*client][]byte
}

// dropEncoded forgets the clients' printed objects; called with the
// store's lock held for writing after a change other than createClient.
func (m *model) dropEncoded() {
	m.encMu.Lock()
	m.enc = nil
	m.encMu.Unlock()
}

func findSorted[T any](list []*T, name string, key func(*T) string) (int, bool) {
	return slices.BinarySearchFunc(list, name, func(e *T, n string) int { return strings.Compare(key(e), n) })
}

func clientName(c *client) string { return c.username }
func groupName(g *group) string   { return g.name }
func roleName(r *role) string     { return r.name }

func (m *model) client(name string) *client {
	if i, ok := findSorted(m.clients, name, clientName); ok {
		return m.clients[i]
	}
	return nil
}

func (m *model) group(name string) *group {
	if i, ok := findSorted(m.groups, name, groupName); ok {
		return m.groups[i]
	}
	return nil
}

func (m *model) role(name string) *role {
	if i, ok := findSorted(m.roles, name, roleName); ok {
		return m.roles[i]
	}
	return nil
}

func (m *model) addClient(c *client) {
	i, _ := findSorted(m.clients, c.username, clientName)
	m.clients = slices.Insert(m.clients, i, c)
}

func (m *model) addGroup(g *group) {
	i, _ := findSorted(m.groups, g.name, groupName)
	m.groups = slices.Insert(m.groups, i, g)
}

func (m *model) addRole(r *role) {
	i, _ := findSorted(m.roles, r.name, roleName)
	m.roles = slices.Insert(m.roles, i, r)
}

func (m *model) removeClient(c *client) {
	for _, gr := range c.groups {
		gr.group.removeClient(c)
	}
	c.groups = nil
	if i, ok := findSorted(m.clients, c.username, clientName); ok {
		m.clients = slices.Delete(m.clients, i, i+1)
	}
}

func (m *model) removeGroup(g *group) {
	for _, mb := range g.clients {
		mb.client.groups = slices.DeleteFunc(mb.client.groups, func(r groupRef) bool { return r.group == g })
	}
	if i, ok := findSorted(m.groups, g.name, groupName); ok {
		m.groups = slices.Delete(m.groups, i, i+1)
	}
	if m.anon == g {
		m.anon = nil
	}
}

func (m *model) removeRole(r *role) {
	for _, c := range m.clients {
		c.roles = removeRoleRef(c.roles, r)
	}
	for _, g := range m.groups {
		g.roles = removeRoleRef(g.roles, r)
	}
	if i, ok := findSorted(m.roles, r.name, roleName); ok {
		m.roles = slices.Delete(m.roles, i, i+1)
	}
}

func cmpRoleRef(a, b roleRef) int {
	if a.priority != b.priority {
		return cmp.Compare(b.priority, a.priority)
	}
	return strings.Compare(a.role.name, b.role.name)
}

// addRoleRef inserts r in priority order; ok is false when it is already there.
func addRoleRef(list []roleRef, r *role, priority int) ([]roleRef, bool) {
	for _, e := range list {
		if e.role == r {
			return list, false
		}
	}
	n := roleRef{r, priority}
	i := 0
	for i < len(list) && cmpRoleRef(list[i], n) <= 0 {
		i++
	}
	return slices.Insert(list, i, n), true
}

func removeRoleRef(list []roleRef, r *role) []roleRef {
	return slices.DeleteFunc(list, func(e roleRef) bool { return e.role == r })
}

func hasRoleRef(list []roleRef, r *role) bool {
	for _, e := range list {
		if e.role == r {
			return true
		}
	}
	return false
}

// addMember puts c in g with priority, on both sides; ok is false when c is
// already a member.
func addMember(c *client, g *group, priority int) bool {
	for _, mb := range g.clients {
		if mb.client == c {
			return false
		}
	}
	i, _ := slices.BinarySearchFunc(g.clients, c.username, func(e membership, n string) int { return strings.Compare(e.client.username, n) })
	g.clients = slices.Insert(g.clients, i, membership{c, priority})
	n := groupRef{g, priority}
	j := 0
	for j < len(c.groups) && cmpGroupRef(c.groups[j], n) <= 0 {
		j++
	}
	c.groups = slices.Insert(c.groups, j, n)
	return true
}

func cmpGroupRef(a, b groupRef) int {
	if a.priority != b.priority {
		return cmp.Compare(b.priority, a.priority)
	}
	return strings.Compare(a.group.name, b.group.name)
}

func (g *group) removeClient(c *client) {
	g.clients = slices.DeleteFunc(g.clients, func(m membership) bool { return m.client == c })
}

func removeMember(c *client, g *group) {
	g.removeClient(c)
	c.groups = slices.DeleteFunc(c.groups, func(r groupRef) bool { return r.group == g })
}

// addACL inserts a in priority order after ACLs of equal priority
// (uthash HASH_ADD_KEYPTR_INORDER); ok is false when the topic exists.
func addACL(list []acl, a acl) ([]acl, bool) {
	for _, e := range list {
		if e.topic == a.topic {
			return list, false
		}
	}
	i := 0
	for i < len(list) && list[i].priority >= a.priority {
		i++
	}
	return slices.Insert(list, i, a), true
}

// usersOfRole lists the usernames whose sessions Mosquitto kicks when r
// changes: clients holding r, members of groups holding r, and "" for
// anonymous clients when the anonymous group holds r.
func (m *model) usersOfRole(r *role) []string {
	var users []string
	for _, c := range m.clients {
		if hasRoleRef(c.roles, r) {
			users = append(users, c.username)
		}
	}
	for _, g := range m.groups {
		if hasRoleRef(g.roles, r) {
			users = append(users, m.usersOfGroup(g)...)
		}
	}
	return users
}

func (m *model) usersOfGroup(g *group) []string {
	var users []string
	if g == m.anon {
		users = append(users, "")
	}
	for _, mb := range g.clients {
		users = append(users, mb.client.username)
	}
	return users
}
