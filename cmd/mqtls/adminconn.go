package main

import (
	"net/url"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/client"
)

// adminConnOptions is connOptions for the commands that log in to a broker
// as a dynamic security admin (dynsec, device, topic apply). The admin
// password may not come from the command line (-P, or -L with
// user:password@), where every user of the machine sees it.
func adminConnOptions(c *cli.Context) (client.Options, error) {
	if argvPassword(c) {
		return client.Options{}, withHint(usageErrorf("an admin %s", strings.TrimPrefix(argvPasswordProblem, "a ")), argvPasswordHint)
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
