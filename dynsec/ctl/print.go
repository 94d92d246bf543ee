package ctl

// What mosquitto_ctrl prints for each answer (its dynsec__payload_callback).

import (
	"errors"
	"fmt"
	"io"

	"mqtls/dynsec"
	"mqtls/internal/cjson"
)

// PrintResponse prints the first response of a payload as mosquitto_ctrl
// does: lists one name per line, getClient/getGroup/getRole as aligned
// fields, nothing for a successful change, and "<command>: Error: <text>"
// on errw for an error. It returns a *dynsec.CommandError for an error answer.
func PrintResponse(w, errw io.Writer, payload []byte) error {
	v, err := parseJSON(payload)
	if err != nil {
		fmt.Fprintln(errw, "Error: Payload not JSON.")
		return errors.New("response is not JSON")
	}
	tree, _ := v.(obj)
	rs, ok := tree.Array("responses")
	if !ok || len(rs) == 0 {
		fmt.Fprintln(errw, "Error: Payload missing data.")
		return errors.New("response has no data")
	}
	r, _ := rs[0].(obj)
	command, ok := r.Str("command")
	if !ok {
		fmt.Fprintln(errw, "Error: Payload missing data.")
		return errors.New("response has no data")
	}
	if msg, ok := r.Str("error"); ok {
		fmt.Fprintf(errw, "%s: Error: %s\n", command, msg)
		return &dynsec.CommandError{Command: command, Message: msg}
	}
	data, _ := r.Obj("data")
	switch {
	case asciiEqualFold(command, "listClients"):
		return printList(w, errw, data, "clients", "username")
	case asciiEqualFold(command, "listGroups"):
		return printList(w, errw, data, "groups", "groupname")
	case asciiEqualFold(command, "listRoles"):
		return printList(w, errw, data, "roles", "rolename")
	case asciiEqualFold(command, "getClient"):
		return printClient(w, errw, data)
	case asciiEqualFold(command, "getGroup"):
		return printGroup(w, errw, data)
	case asciiEqualFold(command, "getRole"):
		return printRole(w, errw, data)
	case asciiEqualFold(command, "getDefaultACLAccess"):
		acls, _ := data.Array("acls")
		for _, a := range acls {
			ao, _ := a.(obj)
			t, ok1 := ao.Str("acltype")
			allow, ok2 := ao.Get("allow").(bool)
			if !ok1 || !ok2 {
				return invalid(errw)
			}
			fmt.Fprintf(w, "%-20s : %s\n", t, map[bool]string{true: "allow", false: "deny"}[allow])
		}
	case asciiEqualFold(command, "getAnonymousGroup"):
		g, _ := data.Obj("group")
		name, ok := g.Str("groupname")
		if !ok {
			return invalid(errw)
		}
		fmt.Fprintln(w, name)
	}
	return nil
}

func invalid(errw io.Writer) error {
	fmt.Fprintln(errw, "Error: Invalid response from server.")
	return errors.New("invalid response from server")
}

func printList(w, errw io.Writer, data obj, array, key string) error {
	items, ok := data.Array(array)
	if !ok {
		return invalid(errw)
	}
	for _, it := range items {
		switch t := it.(type) {
		case obj:
			if s, ok := t.Str(key); ok {
				fmt.Fprintln(w, s)
			}
		case string:
			fmt.Fprintln(w, t)
		}
	}
	return nil
}

func printPriority(w io.Writer, o obj) {
	if p, ok := o.Get("priority").(float64); ok {
		fmt.Fprintf(w, " (priority: %d)", cjson.CInt(p))
	} else {
		fmt.Fprint(w, " (priority: -1)")
	}
	fmt.Fprintln(w)
}

func printRoles(w io.Writer, roles []any, ok bool, width int) {
	if !ok {
		fmt.Fprintln(w, "Roles:")
		return
	}
	first := true
	for _, e := range roles {
		o, _ := e.(obj)
		name, ok := o.Str("rolename")
		if !ok {
			continue
		}
		label := ""
		if first {
			label, first = "Roles:", false
		}
		fmt.Fprintf(w, "%-*s %s", width, label, name)
		printPriority(w, o)
	}
}

func printClient(w, errw io.Writer, data obj) error {
	c, ok := data.Obj("client")
	if !ok {
		return invalid(errw)
	}
	name, ok := c.Str("username")
	if !ok {
		return invalid(errw)
	}
	fmt.Fprintf(w, "Username: %s\n", name)
	if id, ok := c.Str("clientid"); ok {
		fmt.Fprintf(w, "Clientid: %s\n", id)
	} else {
		fmt.Fprintln(w, "Clientid:")
	}
	if d, ok := c.Get("disabled").(bool); ok {
		fmt.Fprintf(w, "Disabled: %v\n", d)
	}
	roles, ok := c.Array("roles")
	printRoles(w, roles, ok, len("Username:"))
	groups, ok := c.Array("groups")
	if !ok {
		fmt.Fprintln(w, "Groups:")
		return nil
	}
	first := true
	for _, e := range groups {
		o, _ := e.(obj)
		g, ok := o.Str("groupname")
		if !ok {
			continue
		}
		if first {
			fmt.Fprintf(w, "Groups:   %s", g)
			first = false
		} else {
			fmt.Fprintf(w, "          %s", g)
		}
		printPriority(w, o)
	}
	return nil
}

func printGroup(w, errw io.Writer, data obj) error {
	g, ok := data.Obj("group")
	if !ok {
		return invalid(errw)
	}
	name, ok := g.Str("groupname")
	if !ok {
		return invalid(errw)
	}
	fmt.Fprintf(w, "Groupname: %s\n", name)
	roles, ok := g.Array("roles")
	printRoles(w, roles, ok, len("Groupname:"))
	clients, _ := g.Array("clients")
	first := true
	for _, e := range clients {
		o, _ := e.(obj)
		u, ok := o.Str("username")
		if !ok {
			continue
		}
		if first {
			fmt.Fprintf(w, "Clients:   %s\n", u)
			first = false
		} else {
			fmt.Fprintf(w, "           %s\n", u)
		}
	}
	return nil
}

func printRole(w, errw io.Writer, data obj) error {
	r, ok := data.Obj("role")
	if !ok {
		return invalid(errw)
	}
	name, ok := r.Str("rolename")
	if !ok {
		return invalid(errw)
	}
	fmt.Fprintf(w, "Rolename: %s\n", name)
	acls, _ := r.Array("acls")
	first := true
	for _, e := range acls {
		o, _ := e.(obj)
		t, ok := o.Str("acltype")
		if !ok {
			continue
		}
		if first {
			fmt.Fprintf(w, "ACLs:     %-20s", t)
			first = false
		} else {
			fmt.Fprintf(w, "          %-20s", t)
		}
		if allow, ok := o.Get("allow").(bool); ok {
			if allow {
				fmt.Fprint(w, " : allow")
			} else {
				fmt.Fprint(w, " : deny ")
			}
		}
		if topic, ok := o.Str("topic"); ok {
			fmt.Fprintf(w, " : %s", topic)
		}
		printPriority(w, o)
	}
	return nil
}

// PrintResponseJSON prints the data of the first response as indented JSON
// (nothing for a successful change), or the error as PrintResponse does.
func PrintResponseJSON(w, errw io.Writer, payload []byte) error {
	v, err := parseJSON(payload)
	if err != nil {
		fmt.Fprintln(errw, "Error: Payload not JSON.")
		return errors.New("response is not JSON")
	}
	tree, _ := v.(obj)
	rs, _ := tree.Array("responses")
	if len(rs) == 0 {
		fmt.Fprintln(errw, "Error: Payload missing data.")
		return errors.New("response has no data")
	}
	r, _ := rs[0].(obj)
	command, _ := r.Str("command")
	if msg, ok := r.Str("error"); ok {
		fmt.Fprintf(errw, "%s: Error: %s\n", command, msg)
		return &dynsec.CommandError{Command: command, Message: msg}
	}
	if data, ok := r.Obj("data"); ok {
		w.Write(printJSON(data, true))
		fmt.Fprintln(w)
	}
	return nil
}
