package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec"
	"mqtls/topic"
)

// applyRoles creates the derived roles and their ACLs in a dynsec file,
// under its lock (refused while a broker serves it). A role or ACL that is
// already there is kept as it is: re-running is harmless, and nothing is
// removed.
func applyRoles(c *cli.Context, file string, roles []topic.Role) error {
	lock, err := dynsec.Lock(file)
	if err != nil {
		if errors.Is(err, dynsec.ErrLocked) {
			return withHint(err, "stop the broker, or give the roles to it with the printed commands and connection flags")
		}
		return err
	}
	defer lock.Unlock()
	s, err := dynsec.Load(file)
	if err != nil {
		return withHint(err, "create one with: mqtls dynsec init "+file+" admin")
	}
	added, kept := 0, 0
	count := func(err error, what string) error {
		var ce *dynsec.CommandError
		switch {
		case err == nil:
			added++
		case errors.As(err, &ce) && strings.HasSuffix(ce.Message, "already exists"):
			kept++
		default:
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	for _, r := range roles {
		if err := count(s.CreateRole(r.Name), "create role "+r.Name); err != nil {
			return err
		}
		for _, a := range r.ACLs {
			if err := count(s.AddRoleACL(r.Name, a.Type, a.Topic, a.Allow, 0), fmt.Sprintf("role %s: add %s %s", r.Name, a.Type, a.Topic)); err != nil {
				return err
			}
		}
	}
	fmt.Fprintf(c.App.ErrWriter, "mqtls: %s: %d roles and ACLs added, %d already there\n", file, added, kept)
	return nil
}
