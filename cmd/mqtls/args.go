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
// them. "--" ends flag parsing, as usual. A flag the command lacks but one of
// its parents has keeps its value beside it (`mqtls dynsec createRole X -h
// HOST`), so that the misuse error can name both.
func reorderArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	rest := args[1:]
	cmds := app.Commands
	flags := app.Flags
	var inherited []cli.Flag
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
		inherited = append(inherited, flags...)
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
		n := flagArity(flags, a)
		own := lookupFlag(flags, a) != nil
		if !own {
			n = flagArity(inherited, a)
		}
		if n == 1 {
			if i+1 == len(rest) {
				// The flag's value is missing: let the parser say so
				// rather than take "--" or an argument as the value. A
				// parent's flag is refused by the command's parser
				// whatever follows it, so the arguments stay, for the
				// misuse error's hint.
				out = append(out, fl...)
				if !own && len(pos) > 0 {
					out = append(append(out, "--"), pos...)
				}
				return out
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

// argFlagName is the name of the flag argument arg: "h" for "-h", "host" for
// "--host=x".
func argFlagName(arg string) string {
	name, _, _ := strings.Cut(strings.TrimLeft(arg, "-"), "=")
	return name
}

// lookupFlag is the flag of flags that arg names, or nil.
func lookupFlag(flags []cli.Flag, arg string) cli.Flag {
	name := argFlagName(arg)
	for _, f := range flags {
		for _, n := range f.Names() {
			if n == name {
				return f
			}
		}
	}
	return nil
}

// takesValue is true for a flag with a value (not a boolean).
func takesValue(f cli.Flag) bool {
	if _, ok := f.(*cli.BoolFlag); ok {
		return false
	}
	if df, ok := f.(cli.DocGenerationFlag); ok && !df.TakesValue() {
		return false
	}
	return true
}

// flagArity is 1 when the flag takes a separate value argument, else 0.
func flagArity(flags []cli.Flag, arg string) int {
	if strings.Contains(arg, "=") {
		return 0
	}
	// An unknown flag (help and version included) is left to the parser,
	// assumed to take no value.
	if f := lookupFlag(flags, arg); f != nil && takesValue(f) {
		return 1
	}
	return 0
}
