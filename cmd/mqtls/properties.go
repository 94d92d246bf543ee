package main

// -D/--property COMMAND IDENTIFIER VALUE (or COMMAND user-property NAME
// VALUE), as in mosquitto_pub and mosquitto_sub. The flag parser takes one
// value per flag (the command); the rest of each -D stays behind as
// positional arguments, in order, and is read back here. pub and sub take no
// other positional arguments, so the split is unambiguous.

import (
	"fmt"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/client"
)

func propertyFlag() cli.Flag {
	return &cli.StringSliceFlag{Name: "property", Aliases: []string{"D"},
		Usage: "MQTT 5 property: `COMMAND` IDENTIFIER VALUE, or COMMAND user-property NAME VALUE (CONNECT, PUBLISH, WILL)"}
}

// applyProperties reads the -D flags into o and returns the PUBLISH
// properties. Any -D makes the connection MQTT 5, as in the Mosquitto tools.
func applyProperties(c *cli.Context, o *client.Options) (client.Properties, error) {
	var pub client.Properties
	cmds := c.StringSlice("property")
	rest := c.Args().Slice()
	take := func() (string, bool) {
		if len(rest) == 0 {
			return "", false
		}
		v := rest[0]
		rest = rest[1:]
		return v, true
	}
	for _, cmd := range cmds {
		id, ok := take()
		if !ok {
			return pub, fmt.Errorf("-D %s: give an identifier and a value", cmd)
		}
		name := ""
		if id == "user-property" {
			if name, ok = take(); !ok {
				return pub, fmt.Errorf("-D %s user-property: give a name and a value", cmd)
			}
		}
		val, ok := take()
		if !ok {
			return pub, fmt.Errorf("-D %s %s: give a value", cmd, id)
		}
		var target *client.Properties
		switch strings.ToUpper(cmd) {
		case "CONNECT":
			if err := o.SetConnectProperty(id, name, val); err != nil {
				return pub, fmt.Errorf("-D CONNECT %s %w", id, err)
			}
			continue
		case "PUBLISH":
			target = &pub
		case "WILL":
			if o.Will == nil {
				return pub, fmt.Errorf("-D WILL needs a will: add --will-topic")
			}
			target = &o.Will.Props
		default:
			return pub, fmt.Errorf("-D %s is not supported: use CONNECT, PUBLISH or WILL", cmd)
		}
		if err := target.Set(id, name, val); err != nil {
			return pub, fmt.Errorf("-D %s %s: %w", cmd, id, err)
		}
	}
	if len(rest) > 0 {
		return pub, fmt.Errorf("unexpected argument %q", rest[0])
	}
	if len(cmds) > 0 {
		o.Version = client.V5
	}
	return pub, nil
}
