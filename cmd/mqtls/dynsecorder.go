package main

// The options of `mqtls dynsec` (-f, the connection flags) come before its
// command, as mosquitto_ctrl's come before its module: `mqtls dynsec
// createRole X -h HOST` is misuse, with the same line in the right order as
// the hint, rather than -h taken as a request for help.

import (
	"errors"
	"flag"
	"fmt"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/internal/shellword"
)

// dynsecSubUsageError is the flag-error handler of the dynsec commands.
func dynsecSubUsageError(c *cli.Context, err error, sub bool) error {
	var parent *cli.Context
	if l := c.Lineage(); len(l) > 1 {
		parent = l[1]
	}
	if parent == nil || parent.Command == nil || parent.Command.Name != "dynsec" {
		return onUsageError(c, err, sub)
	}
	name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -")
	name = argFlagName(name)
	if errors.Is(err, flag.ErrHelp) {
		name, ok = "h", true
	}
	if !ok || lookupFlag(parent.Command.Flags, name) == nil {
		return onUsageError(c, err, sub)
	}
	line, moved, bare := dynsecReorder(parent, c.Command)
	if len(moved) == 0 {
		return onUsageError(c, err, sub)
	}
	if bare {
		// -h is the broker's host, as in mosquitto_ctrl (help is --help):
		// a lone -h after the command is a host left out, not a request
		// for help, and exits 2 rather than 0.
		return withHint(usageErrorf("dynsec %s: -h needs the broker's host and goes before '%s' (help is --help)", c.Command.Name, c.Command.Name),
			"write it as: "+line)
	}
	what := fmt.Sprintf("%s is an option of 'mqtls dynsec' and goes", moved[0])
	if len(moved) > 1 {
		what = fmt.Sprintf("%s and %s are options of 'mqtls dynsec' and go", strings.Join(moved[:len(moved)-1], ", "), moved[len(moved)-1])
	}
	msg := usageErrorf("dynsec %s: %s before '%s'", c.Command.Name, what, c.Command.Name)
	hint := "write it as: " + line
	if lookupFlag(c.Command.Flags, "new-password-file") != nil && slices.Contains(moved, "--password-file") {
		hint = "the new password is --new-password-file FILE; the admin's login is written as: " + line
	}
	return withHint(msg, hint)
}

// dynsecReorder is the command line of the dynsec command sub with the
// parent's flags written after sub moved before it. moved are the moved
// flags as typed; bare is true when -h is moved without a value (the
// line then has HOST in its place).
func dynsecReorder(parent *cli.Context, sub *cli.Command) (line string, moved []string, bare bool) {
	words := []string{"mqtls", "dynsec"}
	// The options given before the command, by their short names.
	for _, f := range parent.Command.Flags {
		n := shortestName(f)
		if !parent.IsSet(n) {
			continue
		}
		switch {
		case !takesValue(f):
			words = append(words, dashed(n))
		default:
			if sf, ok := f.(*cli.StringSliceFlag); ok {
				for _, v := range parent.StringSlice(sf.Name) {
					words = append(words, dashed(n), v)
				}
				continue
			}
			words = append(words, dashed(n), hideSecret(n, parent.String(n)))
		}
	}
	args := parent.Args().Slice() // sub's name, then its arguments
	var own, pos []string
	for i := 1; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if !isFlag(a) {
			pos = append(pos, a)
			continue
		}
		f := lookupFlag(parent.Command.Flags, a)
		if lookupFlag(sub.Flags, a) != nil || argFlagName(a) == "help" || f == nil {
			own = append(own, a)
			if flagArity(sub.Flags, a) == 1 && i+1 < len(args) {
				i++
				own = append(own, args[i])
			}
			continue
		}
		typed, v, hasValue := strings.Cut(a, "=")
		moved = append(moved, typed)
		switch {
		case hasValue:
			words = append(words, typed+"="+hideSecret(argFlagName(a), v))
		case !takesValue(f):
			words = append(words, a)
		case i+1 < len(args) && args[i+1] != "--":
			i++
			words = append(words, a, hideSecret(argFlagName(a), args[i]))
		default:
			bare = bare || argFlagName(a) == "h"
			words = append(words, a, strings.ToUpper(f.Names()[0]))
		}
	}
	words = append(words, sub.Name)
	words = append(words, own...)
	for _, p := range pos {
		if strings.HasPrefix(p, "-") {
			words = append(words, "--")
			break
		}
	}
	words = append(words, pos...)
	for i, w := range words {
		words[i] = shellword.Quote(w)
	}
	return strings.Join(words, " "), moved, bare
}

// hideSecret is the value v of the flag name as the hint shows it: a
// password, or a URL with one, is not repeated.
func hideSecret(name, v string) string {
	switch {
	case name == "P" || name == "pw":
		return "PASSWORD"
	case (name == "L" || name == "url") && strings.Contains(v, "@"):
		return "URL"
	}
	return v
}

// shortestName is a flag's one-letter alias if it has one, else its name.
func shortestName(f cli.Flag) string {
	names := f.Names()
	n := names[0]
	for _, a := range names[1:] {
		if len(a) < len(n) {
			n = a
		}
	}
	return n
}
