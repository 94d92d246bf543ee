package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec"
	"mqtls/topic"
)

// applyRoles creates the derived roles and their ACLs, in the dynsec file
// (under its lock, refused while a broker serves it) or, with no file, in
// the running broker named by the connection flags, through the control
// API as mosquitto_ctrl would. A role or ACL that is already there is kept
// as it is: re-running is harmless, and nothing is removed.
func applyRoles(c *cli.Context, file string, roles []topic.Role) error {
	exec, done, err := dynsecTarget(c, file)
	if err != nil {
		return err
	}
	defer done()
	added, kept := 0, 0
	run := func(args ...string) error {
		req, err := dynsec.BuildRequest(args[0], args[1:], dynsec.CtrlOptions{})
		if err != nil {
			return err
		}
		resp, err := exec(req)
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

// dynsecTarget returns how to run one control API request: on the file,
// or on the broker of the connection flags.
func dynsecTarget(c *cli.Context, file string) (exec func([]byte) ([]byte, error), done func(), err error) {
	if file == "" {
		o, err := adminConnOptions(c)
		if err != nil {
			return nil, nil, err
		}
		if o.TLS == nil {
			warnf(c.App.ErrWriter, "connecting without TLS: the changes are visible on the network")
		}
		return func(req []byte) ([]byte, error) {
			ctx, cancel := context.WithTimeout(c.Context, dynsecTimeout)
			defer cancel()
			return dynsec.Remote(ctx, o, req)
		}, func() {}, nil
	}
	lock, err := dynsec.Lock(file)
	if err != nil {
		if errors.Is(err, dynsec.ErrLocked) {
			return nil, nil, withHint(err, "give the roles to the running broker instead: leave out -f and add its connection flags")
		}
		return nil, nil, err
	}
	s, err := dynsec.Load(file)
	if err != nil {
		lock.Unlock()
		return nil, nil, withHint(err, "create one with: mqtls dynsec init "+file+" admin")
	}
	return s.Exec, func() { lock.Unlock() }, nil
}
