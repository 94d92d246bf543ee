package main

import (
	"context"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec"
)

// dynsecTimeout is mosquitto_ctrl's wait for an answer.
const dynsecTimeout = 10 * time.Second

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

// dynsecRemote sends one request to the broker named by the connection flags.
func dynsecRemote(c *cli.Context, req []byte) ([]byte, error) {
	pc := dynsecParent(c)
	o, err := adminConnOptions(pc)
	if err != nil {
		return nil, err
	}
	if o.TLS == nil {
		warnf(c.App.ErrWriter, "connecting without TLS: the changes you make, passwords included, are visible on the network")
	}
	ctx, cancel := context.WithTimeout(c.Context, dynsecTimeout)
	defer cancel()
	return dynsec.Remote(ctx, o, req)
}
