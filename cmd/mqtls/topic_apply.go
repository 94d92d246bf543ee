package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec"
	"mqtls/dynsec/ctl"
	"mqtls/topic"
)

// applyRoles creates the derived roles and their ACLs, in the dynsec file
// (under its lock, refused while a broker serves it) or, with no file, in
// the running broker named by the connection flags, through the control
// API as mosquitto_ctrl would. A role or ACL that is already there is kept
// as it is: re-running is harmless, and nothing is removed.
func applyRoles(c *cli.Context, file string, roles []topic.Role) error {
	t, err := openDynsec(c, c, file,
		"give the roles to the running broker instead: leave out -f and add its connection flags",
		"connecting without TLS: the changes are visible on the network")
	if err != nil {
		return err
	}
	defer t.Close()
	added, kept := 0, 0
	run := func(args ...string) error {
		req, err := ctl.BuildRequest(args[0], args[1:], ctl.Options{})
		if err != nil {
			return err
		}
		resp, err := t.Exec(c.Context, req)
		if err == nil {
			err = dynsec.ResponseError(resp)
		}
		var ce *dynsec.CommandError
		switch {
		case err == nil:
			added++
		case errors.As(err, &ce) && strings.HasSuffix(ce.Message, "already exists"):
			kept++
		default:
			return fmt.Errorf("%s: %w", strings.Join(args, " "), err)
		}
		return nil
	}
	for _, r := range roles {
		if err := run("createRole", r.Name); err != nil {
			return err
		}
		for _, a := range r.ACLs {
			verdict := "deny"
			if a.Allow {
				verdict = "allow"
			}
			if err := run("addRoleACL", r.Name, a.Type, a.Topic, verdict); err != nil {
				return err
			}
		}
	}
	where := file
	if where == "" {
		where = "broker"
	}
	fmt.Fprintf(c.App.ErrWriter, "mqtls: %s: %d roles and ACLs added, %d already there\n", where, added, kept)
	return nil
}
