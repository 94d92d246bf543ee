package main

import (
	"net/url"

	"github.com/urfave/cli/v2"

	"mqtls/client"
)

// adminConnOptions is connOptions for the commands that log in to a broker
// as a dynamic security admin (dynsec, device, topic apply). The admin
// password may not come from the command line (-P, or -L with
// user:password@), where every user of the machine sees it.
func adminConnOptions(c *cli.Context) (client.Options, error) {
	if c.IsSet("pw") || urlHasPassword(c.String("url")) {
		return client.Options{}, withHint(usageErrorf("an admin password on the command line is visible to every user of this machine"),
			"give it with --password-file FILE or $MQTT_PASSWORD")
	}
	o, _, err := connOptions(c)
	if err != nil {
		return o, usageErrorf("%v", err)
	}
	return o, nil
}

func urlHasPassword(s string) bool {
	if s == "" {
		return false
	}
	u, err := url.Parse(s)
	if err != nil || u.User == nil {
		return false
	}
	_, ok := u.User.Password()
	return ok
}
