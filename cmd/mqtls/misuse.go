package main

// One misuse path for every command. An unknown command or flag, or a bad
// flag value, is one line "mqtls: error: ..." plus, when a close name exists,
// "mqtls: hint: did you mean ...?", and exit code 2 (pub, sub and watch keep
// the Mosquitto tools' 1). -h is --help wherever a command has no -h of its
// own. prepareTree installs this on the whole command tree when the app is
// built, so a command added later gets it without doing anything.

import (
	"errors"
	"flag"
	"fmt"
	"regexp"
	"strings"

	"github.com/urfave/cli/v2"
	"github.com/xrash/smetrics"
)

// prepareTree gives every command the shared misuse handling: flag errors
// through flagMisuse (unless the command handles them itself), and, for a
// group of subcommands without an action of its own, an action that names an
// unknown subcommand instead of urfave's "No help topic" (exit 3).
func prepareTree(cmds []*cli.Command) {
	for _, c := range cmds {
		if c.OnUsageError == nil {
			c.OnUsageError = onUsageError
		}
		if len(c.Subcommands) > 0 && c.Action == nil {
			c.Action = groupAction
		}
		// "mqtls cert help client" is groupAction's; urfave's help
		// subcommand says "No help topic" with exit 3.
		c.HideHelpCommand = true
		prepareTree(c.Subcommands)
	}
}

// groupAction runs a command group: its help without arguments, else the
// argument is an unknown subcommand.
func groupAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowSubcommandHelp(c)
	}
	if c.Args().First() == "help" {
		path := append(strings.Fields(commandPath(c)), c.Args().Tail()...)
		return helpFor(c, path)
	}
	return unknownCommand(c, c.Args().First())
}

// rootAction runs the app without a known command.
func rootAction(c *cli.Context) error {
	if c.NArg() == 0 {
		return cli.ShowAppHelp(c)
	}
	return unknownCommand(c, c.Args().First())
}

// unknownCommand is the misuse error for name, given where a subcommand of
// c's command was expected.
func unknownCommand(c *cli.Context, name string) error {
	path := strings.TrimSpace("mqtls " + commandPath(c))
	cmds := c.App.Commands
	if !isRoot(c) {
		cmds = c.Command.Subcommands
	}
	var names []string
	for _, sc := range cmds {
		if !sc.Hidden {
			names = append(names, sc.Names()...)
		}
	}
	err := usageErrorf("unknown command '%s'", strings.TrimPrefix(path+" "+name, "mqtls "))
	if near := closest(name, names); near != "" {
		return withHint(err, fmt.Sprintf("did you mean '%s %s'?", path, near))
	}
	return withHint(err, fmt.Sprintf("see '%s --help' for the commands", path))
}

// onUsageError is the flag-error handler of every command that does not
// have its own.
func onUsageError(c *cli.Context, err error, _ bool) error {
	msg, hint, help := flagMisuse(c, err)
	if help {
		return showHelp(c)
	}
	return withHint(usageErrorf("%s", msg), hint)
}

// showHelp prints the help of c's command, as --help does.
func showHelp(c *cli.Context) error {
	if isRoot(c) {
		return cli.ShowAppHelp(c)
	}
	return cli.ShowSubcommandHelp(c)
}

// flagMisuse turns a flag parsing error into one line and a hint. help is
// true when the error is Go's flag.ErrHelp: -h given to a command that has
// no -h flag, which asks for help.
func flagMisuse(c *cli.Context, err error) (msg, hint string, help bool) {
	if errors.Is(err, flag.ErrHelp) {
		return "", "", true
	}
	path := strings.TrimSpace("mqtls " + commandPath(c))
	seeHelp := fmt.Sprintf("see '%s --help' for the flags", path)
	where := commandPath(c)
	if where != "" {
		where += ": "
	}
	const undefined = "flag provided but not defined: -"
	s := err.Error()
	if name, ok := strings.CutPrefix(s, undefined); ok {
		name = strings.TrimLeft(name, "-")
		msg = fmt.Sprintf("%sunknown flag %s", where, dashed(name))
		if near := closest(name, flagNames(c)); near != "" {
			return msg, fmt.Sprintf("did you mean %s?", dashed(near)), false
		}
		return msg, seeHelp, false
	}
	// Go's flag package names every flag with one dash; say it as it is typed.
	s = oneDash.ReplaceAllStringFunc(s, func(m string) string {
		sub := oneDash.FindStringSubmatch(m)
		return sub[1] + " " + dashed(sub[2])
	})
	return where + s, seeHelp, false
}

var oneDash = regexp.MustCompile(`(flag|argument:) -([A-Za-z0-9][A-Za-z0-9-]*)`)

// isRoot is true when c runs the app itself rather than one of its commands.
func isRoot(c *cli.Context) bool {
	return c.Command == nil || c.Command.Name == "" || c.Command.Name == c.App.Name
}

// dashed is a flag name as it is typed: -h, --host.
func dashed(name string) string {
	if len(name) == 1 {
		return "-" + name
	}
	return "--" + name
}

// flagNames are the names of c's command's flags, help included.
func flagNames(c *cli.Context) []string {
	names := []string{"help"}
	flags := c.App.Flags
	if !isRoot(c) {
		flags = c.Command.Flags
	}
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		names = append(names, f.Names()...)
	}
	return names
}

// closest is the candidate nearest to s: a unique one that s begins, else
// the one fewest edits away (a swap of two letters counts as two), if that is
// close enough to be a typo rather than another word.
func closest(s string, candidates []string) string {
	if s == "" {
		return ""
	}
	var prefixed []string
	for _, c := range candidates {
		if len(s) >= 2 && strings.HasPrefix(c, s) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	best, bestD := "", len(s)/2+1
	bestD = min(bestD, 3)
	for _, c := range candidates {
		if d := smetrics.WagnerFischer(s, c, 1, 1, 1); d < bestD {
			best, bestD = c, d
		}
	}
	return best
}
