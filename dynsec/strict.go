package dynsec

import (
	"errors"
	"fmt"
	"strings"
)

// Strict loading. Mosquitto's plugin skips what it does not understand: a
// second client of one name, "disabled": "true" (read as enabled), an
// unknown key. A broker that starts with such a file runs with access rules
// other than those written, so Load refuses it and names each problem by
// its place in the file: clients[3].disabled: want true or false.

// kind is the JSON type a field must have.
type kind int

const (
	kString kind = iota
	kNumber
	kBool
	kObject
	kArray
)

var kindWant = [...]string{kString: "want a string", kNumber: "want a number", kBool: "want true or false",
	kObject: "want an object", kArray: "want an array"}

// field is one known key of an entry; items, for an array of objects, the
// keys of each.
type field struct {
	name  string
	kind  kind
	items []field
}

var (
	roleRefFields = []field{{name: "rolename"}, {name: "priority", kind: kNumber}}
	clientFields  = []field{
		{name: "username"}, {name: "textname"}, {name: "textdescription"}, {name: "clientid"},
		{name: "password"}, {name: "salt"}, {name: "iterations", kind: kNumber},
		{name: "disabled", kind: kBool}, {name: "roles", kind: kArray, items: roleRefFields},
	}
	groupFields = []field{
		{name: "groupname"}, {name: "textname"}, {name: "textdescription"},
		{name: "roles", kind: kArray, items: roleRefFields},
		{name: "clients", kind: kArray, items: []field{{name: "username"}, {name: "priority", kind: kNumber}}},
	}
	roleFields = []field{
		{name: "rolename"}, {name: "textname"}, {name: "textdescription"},
		{name: "acls", kind: kArray, items: []field{{name: "acltype"}, {name: "topic"},
			{name: "priority", kind: kNumber}, {name: "allow", kind: kBool}}},
	}
	defaultAccessFields = []field{{name: ACLPublishClientSend, kind: kBool}, {name: ACLPublishClientReceive, kind: kBool},
		{name: "subscribe", kind: kBool}, {name: "unsubscribe", kind: kBool}}
)

// maxProblems bounds the lines of one refusal.
const maxProblems = 20

// checker collects the problems of one file.
type checker struct{ problems []string }

func (c *checker) add(path, format string, a ...any) {
	c.problems = append(c.problems, path+": "+fmt.Sprintf(format, a...))
}

func isKind(v any, k kind) bool {
	switch v.(type) {
	case string:
		return k == kString
	case float64:
		return k == kNumber
	case bool:
		return k == kBool
	case obj:
		return k == kObject
	case []any:
		return k == kArray
	}
	return false
}

// checkConfig returns every problem of the parsed file tree, nil when
// there is none.
func checkConfig(tree obj) error {
	c := &checker{}
	if v := tree.Get("defaultACLAccess"); v != nil {
		if o, ok := v.(obj); !ok {
			c.add("defaultACLAccess", "%s", kindWant[kObject])
		} else {
			c.entry("defaultACLAccess", o, defaultAccessFields)
		}
	}
	if v := tree.Get("anonymousGroup"); v != nil && !isKind(v, kString) {
		c.add("anonymousGroup", "%s", kindWant[kString])
	}
	c.list(tree, "clients", "username", clientFields)
	c.list(tree, "groups", "groupname", groupFields)
	c.list(tree, "roles", "rolename", roleFields)
	c.acls(tree)
	if len(c.problems) == 0 {
		return nil
	}
	if len(c.problems) > maxProblems {
		n := len(c.problems) - maxProblems
		c.problems = append(c.problems[:maxProblems], fmt.Sprintf("and %d more problems", n))
	}
	return problems(c.problems)
}

// problems is the refusal of a file: one line per problem.
type problems []string

func (p problems) Error() string { return strings.Join(p, "\n") }

// in names the file on each line.
func (p problems) in(file string) error {
	lines := make([]string, len(p))
	for i, l := range p {
		lines[i] = file + ": " + l
	}
	return errors.New(strings.Join(lines, "\n"))
}

// list checks the array under key: each entry an object with known fields
// of the right types, named by a string nameKey that no other entry has.
func (c *checker) list(tree obj, key, nameKey string, fields []field) {
	v := tree.Get(key)
	if v == nil {
		return
	}
	items, ok := v.([]any)
	if !ok {
		c.add(key, "%s", kindWant[kArray])
		return
	}
	seen := map[string]int{}
	for i, it := range items {
		path := fmt.Sprintf("%s[%d]", key, i)
		o, ok := it.(obj)
		if !ok {
			c.add(path, "%s", kindWant[kObject])
			continue
		}
		c.entry(path, o, fields)
		name, ok := o.Get(nameKey).(string)
		switch {
		case !o.Has(nameKey):
			c.add(path, "no %s", nameKey)
		case !ok:
			// entry has said it
		case name == "":
			c.add(path+"."+nameKey, "empty")
		default:
			if j, dup := seen[name]; dup {
				c.add(path+"."+nameKey, "%q again (first at %s[%d])", name, key, j)
			} else {
				seen[name] = i
			}
		}
	}
}

// entry checks the members of one object against fields.
func (c *checker) entry(path string, o obj, fields []field) {
	seen := map[string]bool{}
	for _, m := range o {
		fp := path + "." + m.Key
		f, ok := findField(fields, m.Key)
		if !ok {
			c.add(fp, "unknown field")
			continue
		}
		if seen[f.name] {
			c.add(fp, "given twice")
			continue
		}
		seen[f.name] = true
		if !isKind(m.Val, f.kind) {
			c.add(fp, "%s", kindWant[f.kind])
			continue
		}
		if f.items == nil {
			continue
		}
		for i, it := range m.Val.([]any) {
			ip := fmt.Sprintf("%s[%d]", fp, i)
			io, ok := it.(obj)
			if !ok {
				c.add(ip, "%s", kindWant[kObject])
				continue
			}
			c.entry(ip, io, f.items)
		}
	}
}

// acls checks the acltype of every role's ACL.
func (c *checker) acls(tree obj) {
	roles, _ := tree.Get("roles").([]any)
	for i, rv := range roles {
		r, _ := rv.(obj)
		acls, _ := r.Get("acls").([]any)
		for j, av := range acls {
			a, _ := av.(obj)
			t, ok := a.Get("acltype").(string)
			path := fmt.Sprintf("roles[%d].acls[%d]", i, j)
			switch {
			case a != nil && !a.Has("acltype"):
				c.add(path, "no acltype")
			case ok && aclTypeIndex(t) < 0:
				c.add(path+".acltype", "%q is not one of %s", t, strings.Join(aclTypes[:], ", "))
			}
			if a != nil && !a.Has("topic") {
				c.add(path, "no topic")
			}
		}
	}
}

// findField matches a key as the plugin does, ignoring ASCII case.
func findField(fields []field, key string) (field, bool) {
	for _, f := range fields {
		if asciiEqualFold(f.name, key) {
			return f, true
		}
	}
	return field{}, false
}
