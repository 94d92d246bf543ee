package main

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// reorderArgs moves flags after positional arguments to before them, so that
// `mqtls cert client DSN000001 --days 30` and `mqtls cert client --days 30
// DSN000001` mean the same (urfave/cli v2 stops parsing flags at the first
// argument). It finds the command being run, then, for its arguments, keeps
// every flag with its value in order and puts the positional arguments after
// them. "--" ends flag parsing, as usual.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	cmds := app.Commands
	flags := app.Flags
	// Descend through command names; flags may appear between them.
	for len(rest) > 0 {
		i := 0
		var head []string
		for i < len(rest) && isFlag(rest[i]) {
			n := flagArity(flags, rest[i])
			end := min(i+1+n, len(rest))
			head = append(head, rest[i:end]...)
			i = end
		}
		if i >= len(rest) {
			out = append(out, head...)
			return out
		}
		c := findCommand(cmds, rest[i])
		if c == nil {
			break
		}
		out = append(out, head...)
		out = append(out, rest[i])
		rest = rest[i+1:]
		cmds = c.Subcommands
		flags = c.Flags
		if c.SkipFlagParsing {
			return append(out, rest...)
		}
	}
	var fl, pos []string
	for i := 0; i < len(rest); i++ {
		a := rest[i]
		if a == "--" {
			pos = append(pos, rest[i+1:]...)
			break
		}
		if !isFlag(a) {
			pos = append(pos, a)
			continue
		}
		fl = append(fl, a)
		if flagArity(flags, a) == 1 {
			if i+1 == len(rest) {
				// The flag's value is missing: let the parser say so
				// rather than take "--" or an argument as the value.
				return append(out, fl...)
			}
			i++
			fl = append(fl, rest[i])
		}
	}
	out = append(out, fl...)
	if len(pos) > 0 {
		out = append(out, "--")
		out = append(out, pos...)
	}
	return out
}

func isFlag(a string) bool {
	return len(a) > 1 && a[0] == '-'
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// flagArity is 1 when the flag takes a separate value argument, else 0.
func flagArity(flags []cli.Flag, arg string) int {
	name := strings.TrimLeft(arg, "-")
	if strings.Contains(name, "=") {
		return 0
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if _, ok := f.(*cli.BoolFlag); ok {
				return 0
			}
			if df, ok := f.(cli.DocGenerationFlag); ok && !df.TakesValue() {
				return 0
			}
			return 1
		}
	}
	if name == "help" || name == "version" {
		return 0
	}
	// Unknown flag: let the parser report it; assume it takes no value.
	return 0
}
