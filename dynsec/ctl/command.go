package ctl

// mosquitto_ctrl's dynsec commands: the request each command line builds and
// the text each response prints, shared by the file and the live modes of
// `mqtls dynsec`.

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"mqtls/dynsec"
)

// ErrUsage marks a command line that mosquitto_ctrl would reject.
var ErrUsage = errors.New("bad arguments")

// Command describes one mosquitto_ctrl dynsec command.
type Command struct {
	Name  string
	Args  string // argument synopsis
	Usage string
	// Password is true for commands that take a password (createClient,
	// setClientPassword).
	Password bool
}

// Commands lists the commands in mosquitto_ctrl's help order.
var Commands = []Command{
	{Name: "getDefaultACLAccess", Usage: "show the default ACL access"},
	{Name: "setDefaultACLAccess", Args: "<acltype> allow|deny", Usage: "set the default ACL access (acltype: publishClientSend|publishClientReceive|subscribe|unsubscribe)"},
	{Name: "getAnonymousGroup", Usage: "show the group for anonymous clients"},
	{Name: "setAnonymousGroup", Args: "<groupname>", Usage: "set the group for anonymous clients"},
	{Name: "createClient", Args: "<username>", Usage: "create a client (-c clientid; password from --new-password-file or a prompt)", Password: true},
	{Name: "deleteClient", Args: "<username>", Usage: "delete a client"},
	{Name: "setClientPassword", Args: "<username>", Usage: "set a client password (from --new-password-file or a prompt)", Password: true},
	{Name: "setClientId", Args: "<username> [clientid]", Usage: "pin a client id, or unpin it"},
	{Name: "addClientRole", Args: "<username> <rolename> [priority]", Usage: "add a role to a client; higher priority roles are evaluated first"},
	{Name: "removeClientRole", Args: "<username> <rolename>", Usage: "remove a role from a client"},
	{Name: "getClient", Args: "<username>", Usage: "show a client"},
	{Name: "listClients", Args: "[count [offset]]", Usage: "list clients"},
	{Name: "enableClient", Args: "<username>", Usage: "enable a client"},
	{Name: "disableClient", Args: "<username>", Usage: "disable a client and disconnect it"},
	{Name: "createGroup", Args: "<groupname>", Usage: "create a group"},
	{Name: "deleteGroup", Args: "<groupname>", Usage: "delete a group"},
	{Name: "addGroupRole", Args: "<groupname> <rolename> [priority]", Usage: "add a role to a group"},
	{Name: "removeGroupRole", Args: "<groupname> <rolename>", Usage: "remove a role from a group"},
	{Name: "addGroupClient", Args: "<groupname> <username> [priority]", Usage: "add a client to a group; higher priority groups are evaluated first"},
	{Name: "removeGroupClient", Args: "<groupname> <username>", Usage: "remove a client from a group"},
	{Name: "getGroup", Args: "<groupname>", Usage: "show a group"},
	{Name: "listGroups", Args: "[count [offset]]", Usage: "list groups"},
	{Name: "createRole", Args: "<rolename>", Usage: "create a role"},
	{Name: "deleteRole", Args: "<rolename>", Usage: "delete a role"},
	{Name: "addRoleACL", Args: "<rolename> <acltype> <topicFilter> allow|deny [priority]", Usage: "add an ACL to a role; higher priority ACLs are evaluated first"},
	{Name: "removeRoleACL", Args: "<rolename> <acltype> <topicFilter>", Usage: "remove an ACL from a role"},
	{Name: "getRole", Args: "<rolename>", Usage: "show a role"},
	{Name: "listRoles", Args: "[count [offset]]", Usage: "list roles"},
}

// Options are a command's values that are not positional arguments.
type Options struct {
	// ClientID is createClient's -c.
	ClientID string
	// Password is the new password of createClient and setClientPassword;
	// nil for none.
	Password []byte
}

func usagef(format string, a ...any) error {
	return fmt.Errorf("%s: %w", fmt.Sprintf(format, a...), ErrUsage)
}

// BuildRequest returns the payload mosquitto_ctrl publishes for a command
// line (one command in {"commands":[...]}).
func BuildRequest(name string, args []string, o Options) ([]byte, error) {
	cmd, err := buildCommand(name, args, o)
	if err != nil {
		return nil, err
	}
	return printJSON(obj{{"commands", []any{cmd}}}, false), nil
}

func nargs(name string, args []string, min, max int) error {
	if len(args) < min || len(args) > max {
		for _, c := range Commands {
			if c.Name == name {
				return usagef("usage: %s %s", name, c.Args)
			}
		}
		return usagef("wrong number of arguments")
	}
	return nil
}

// atoi is C's atoi: leading digits, 0 when there are none.
func atoi(s string) int {
	s = strings.TrimLeft(s, " \t\n")
	end := 0
	if end < len(s) && (s[end] == '-' || s[end] == '+') {
		end++
	}
	for end < len(s) && s[end] >= '0' && s[end] <= '9' {
		end++
	}
	n, _ := strconv.Atoi(s[:end])
	return n
}

func buildCommand(name string, args []string, o Options) (obj, error) {
	c := obj{{"command", name}}
	one := func(key string) (obj, error) {
		if err := nargs(name, args, 1, 1); err != nil {
			return nil, err
		}
		return append(c, member{key, args[0]}), nil
	}
	withPriority := func(k1, k2 string) (obj, error) {
		if err := nargs(name, args, 2, 3); err != nil {
			return nil, err
		}
		c = append(c, member{k1, args[0]}, member{k2, args[1]})
		if len(args) == 3 {
			if p := atoi(args[2]); p != -1 {
				c = append(c, member{"priority", p})
			}
		}
		return c, nil
	}
	two := func(k1, k2 string) (obj, error) {
		if err := nargs(name, args, 2, 2); err != nil {
			return nil, err
		}
		return append(c, member{k1, args[0]}, member{k2, args[1]}), nil
	}
	list := func() (obj, error) {
		if err := nargs(name, args, 0, 2); err != nil {
			return nil, err
		}
		if len(args) >= 1 {
			if n := atoi(args[0]); n > 0 {
				c = append(c, member{"count", n})
			}
		}
		if len(args) == 2 {
			if n := atoi(args[1]); n > 0 {
				c = append(c, member{"offset", n})
			}
		}
		return c, nil
	}
	switch name {
	case "getDefaultACLAccess", "getAnonymousGroup":
		if err := nargs(name, args, 0, 0); err != nil {
			return nil, err
		}
		return c, nil
	case "setDefaultACLAccess":
		if err := nargs(name, args, 2, 2); err != nil {
			return nil, err
		}
		t := args[0]
		if !asciiEqualFold(t, dynsec.ACLPublishClientSend) && !asciiEqualFold(t, dynsec.ACLPublishClientReceive) &&
			!asciiEqualFold(t, "subscribe") && !asciiEqualFold(t, "unsubscribe") {
			return nil, usagef("acltype must be publishClientSend, publishClientReceive, subscribe or unsubscribe")
		}
		allow, err := allowDeny(args[1])
		if err != nil {
			return nil, err
		}
		// mosquitto_ctrl 2.0 sends "access":"allow", which the plugin ignores;
		// we send what the plugin reads.
		return append(c, member{"acls", []any{obj{{"acltype", t}, {"allow", allow}}}}), nil
	case "setAnonymousGroup", "createGroup", "deleteGroup", "getGroup":
		return one("groupname")
	case "createClient":
		if err := nargs(name, args, 1, 1); err != nil {
			return nil, err
		}
		c = append(c, member{"username", args[0]})
		if o.ClientID != "" {
			c = append(c, member{"clientid", o.ClientID})
		}
		if o.Password != nil {
			c = append(c, member{"password", string(o.Password)})
		}
		return c, nil
	case "deleteClient", "getClient", "enableClient", "disableClient":
		return one("username")
	case "setClientPassword":
		if err := nargs(name, args, 1, 1); err != nil {
			return nil, err
		}
		return append(c, member{"username", args[0]}, member{"password", string(o.Password)}), nil
	case "setClientId":
		if err := nargs(name, args, 1, 2); err != nil {
			return nil, err
		}
		c = append(c, member{"username", args[0]})
		if len(args) == 2 {
			c = append(c, member{"clientid", args[1]})
		}
		return c, nil
	case "addClientRole":
		return withPriority("username", "rolename")
	case "removeClientRole":
		return two("username", "rolename")
	case "listClients", "listGroups", "listRoles":
		return list()
	case "addGroupRole":
		return withPriority("groupname", "rolename")
	case "removeGroupRole":
		return two("groupname", "rolename")
	case "addGroupClient":
		return withPriority("groupname", "username")
	case "removeGroupClient":
		return two("groupname", "username")
	case "createRole", "deleteRole", "getRole":
		return one("rolename")
	case "addRoleACL", "removeRoleACL":
		lo, hi := 4, 5
		if name == "removeRoleACL" {
			lo, hi = 3, 3
		}
		if err := nargs(name, args, lo, hi); err != nil {
			return nil, err
		}
		if !dynsec.IsACLType(args[1]) {
			return nil, usagef("acltype must be one of %s", strings.Join(dynsec.ACLTypes(), ", "))
		}
		c = append(c, member{"rolename", args[0]}, member{"acltype", args[1]}, member{"topic", args[2]})
		if name == "removeRoleACL" {
			return c, nil
		}
		allow, err := allowDeny(args[3])
		if err != nil {
			return nil, err
		}
		c = append(c, member{"allow", allow})
		if len(args) == 5 {
			if p := atoi(args[4]); p != -1 {
				c = append(c, member{"priority", p})
			}
		}
		return c, nil
	}
	return nil, fmt.Errorf("command '%s' not recognised: %w", name, ErrUsage)
}

func allowDeny(s string) (bool, error) {
	switch {
	case asciiEqualFold(s, "allow"):
		return true, nil
	case asciiEqualFold(s, "deny"):
		return false, nil
	}
	return false, usagef("access must be \"allow\" or \"deny\"")
}
