package main

// -D/--property COMMAND IDENTIFIER VALUE (or COMMAND user-property NAME
// VALUE), as in mosquitto_pub and mosquitto_sub. The flag parser takes one
// value per flag (the command); the rest of each -D stays behind as
// positional arguments, in order, and is read back here. pub and sub take no
// other positional arguments, so the split is unambiguous.

import (
	"fmt"
	"strconv"
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
			switch id {
			case "user-property":
				o.ConnectProperties = append(o.ConnectProperties, client.UserProperty{Key: name, Value: val})
			case "session-expiry-interval":
				n, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					return pub, fmt.Errorf("-D CONNECT session-expiry-interval %q: not a number of seconds", val)
				}
				o.SessionExpiry = uint32(n)
			default:
				return pub, fmt.Errorf("-D CONNECT %s is not supported (user-property and session-expiry-interval are)", id)
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
		if err := setProperty(target, id, name, val); err != nil {
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

func setProperty(p *client.Properties, id, name, val string) error {
	switch id {
	case "user-property":
		p.User = append(p.User, client.UserProperty{Key: name, Value: val})
	case "content-type":
		p.ContentType = val
	case "response-topic":
		p.ResponseTopic = val
	case "correlation-data":
		p.CorrelationData = []byte(val)
	case "message-expiry-interval":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number of seconds", val)
		}
		v := uint32(n)
		p.MessageExpiry = &v
	case "payload-format-indicator":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil || n > 1 {
			return fmt.Errorf("%q is not 0 or 1", val)
		}
		v := byte(n)
		p.PayloadFormat = &v
	default:
		return fmt.Errorf("not supported (user-property, content-type, response-topic, correlation-data, message-expiry-interval and payload-format-indicator are)")
	}
	return nil
}
