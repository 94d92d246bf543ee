package main

import (
	"context"
	"errors"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec"
	"mqtls/dynsec/ctl"
)

// dynsecParent is the context of the dynsec command itself, which holds the
// connection flags (the subcommands have flags of the same names, such as
// --password-file, with another meaning).
func dynsecParent(c *cli.Context) *cli.Context {
	for _, l := range c.Lineage() {
		if l.Command != nil && l.Command.Name == "dynsec" {
			return l
		}
	}
	return c
}

// openDynsec opens where a dynamic security configuration lives: file,
// under its lock (lockedHint says what to do instead while a broker serves
// it), or with no file the broker named by the connection flags of conn,
// warning with plainWarning when the connection has no TLS.
func openDynsec(c, conn *cli.Context, file, lockedHint, plainWarning string) (ctl.Target, error) {
	if file == "" {
		o, err := adminConnOptions(conn)
		if err != nil {
			return nil, err
		}
		if o.TLS == nil {
			warnf(c.App.ErrWriter, "%s", plainWarning)
		}
		ctx, cancel := context.WithTimeout(c.Context, ctl.Timeout)
		defer cancel()
		return ctl.Dial(ctx, o)
	}
	t, err := ctl.OpenFile(file, ctl.FileOptions{})
	if err != nil {
		if errors.Is(err, dynsec.ErrLocked) {
			return nil, withHint(err, lockedHint)
		}
		return nil, withHint(err, "create one with: mqtls dynsec init "+file+" admin")
	}
	return t, nil
}
