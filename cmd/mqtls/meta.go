package main

// The commands about mqtls itself: help, version and shell completion.

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"

	"github.com/urfave/cli/v2"
)

// Version and Commit are set at build time by make:
// -ldflags "-X main.Version=... -X main.Commit=...". Without them the module
// version and the VCS revision Go stamps into the binary are used.
var (
	Version string
	Commit  string
)

func version() string {
	if Version != "" {
		return Version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" {
		return bi.Main.Version
	}
	return "(devel)"
}

func commit() string {
	if Commit != "" {
		return Commit
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// printVersion writes the version, the commit and the Go toolchain.
func printVersion(w io.Writer) {
	fmt.Fprintf(w, "mqtls %s\ncommit %s\n%s %s/%s\n", version(), commit(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func metaCommands() []*cli.Command {
	return []*cli.Command{helpCmd(), versionCmd(), completionCmd()}
}

func versionCmd() *cli.Command {
	return &cli.Command{
		Name:      "version",
		Usage:     "print the version, the commit it was built from and the Go version",
		ArgsUsage: " ",
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return withHint(usageErrorf("version takes no arguments"), "see 'mqtls version --help'")
			}
			printVersion(c.App.Writer)
			return nil
		},
	}
}

func helpCmd() *cli.Command {
	return &cli.Command{
		Name:      "help",
		Usage:     "show the help of mqtls or of a command",
		ArgsUsage: "[command [subcommand]]",
		Description: `Examples:
   $ mqtls help
   $ mqtls help cert client      (the same as mqtls cert client --help)`,
		Action: func(c *cli.Context) error {
			return helpFor(c, c.Args().Slice())
		},
	}
}

// helpFor prints the help of the command at path, or names the part of path
// that is not a command.
func helpFor(c *cli.Context, path []string) error {
	if len(path) == 0 {
		return cli.ShowAppHelp(c)
	}
	cmds := c.App.Commands
	for i, name := range path {
		sc := findCommand(cmds, name)
		if sc == nil {
			var names []string
			for _, x := range cmds {
				if !x.Hidden {
					names = append(names, x.Names()...)
				}
			}
			where := strings.Join(path[:i], " ")
			err := usageErrorf("no command '%s'", strings.TrimSpace(where+" "+name))
			if near := closest(name, names); near != "" {
				return withHint(err, fmt.Sprintf("did you mean 'mqtls help %s'?", strings.TrimSpace(where+" "+near)))
			}
			return withHint(err, fmt.Sprintf("see '%s' for the commands", strings.TrimSpace("mqtls help "+where)))
		}
		cmds = sc.Subcommands
	}
	if len(path) == 1 && path[0] == c.Command.Name {
		// "mqtls help help": urfave reads "help --help" as the app's help.
		return cli.ShowSubcommandHelp(c)
	}
	args := append(append([]string{"mqtls"}, path...), "--help")
	return newApp(c.App.Writer, c.App.ErrWriter).Run(args)
}

var shells = []string{"bash", "zsh", "fish"}

func completionCmd() *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print the shell completion script for bash, zsh or fish",
		ArgsUsage: "bash|zsh|fish",
		Description: `Examples:
   $ source <(mqtls completion bash)                      (in ~/.bashrc)
   $ source <(mqtls completion zsh)                       (in ~/.zshrc, after compinit)
   $ mqtls completion fish > ~/.config/fish/completions/mqtls.fish

bash and zsh ask mqtls itself for the words to offer, so their completion
follows the installed binary; fish's script lists the commands and flags of
the binary that printed it.`,
		Action: func(c *cli.Context) error {
			if c.NArg() != 1 {
				return withHint(usageErrorf("completion takes one shell: bash, zsh or fish"), "see 'mqtls completion --help'")
			}
			switch sh := c.Args().First(); sh {
			case "bash":
				_, err := io.WriteString(c.App.Writer, bashCompletion)
				return err
			case "zsh":
				_, err := io.WriteString(c.App.Writer, zshCompletion)
				return err
			case "fish":
				s, err := c.App.ToFishCompletion()
				if err != nil {
					return fmt.Errorf("fish completion: %w", err)
				}
				_, err = io.WriteString(c.App.Writer, s)
				return err
			default:
				err := usageErrorf("no completion for shell '%s': give bash, zsh or fish", sh)
				if near := closest(sh, shells); near != "" {
					return withHint(err, fmt.Sprintf("did you mean 'mqtls completion %s'?", near))
				}
				return err
			}
		},
	}
}

// The bash and zsh scripts follow urfave/cli's autocomplete/ scripts (not part
// of its Go package in v2): the shell runs the command line typed so far with
// --generate-bash-completion and offers the words mqtls prints. The bash one
// reads COMP_WORDS itself, so it needs no bash-completion package.
const bashCompletion = `# bash completion for mqtls: source <(mqtls completion bash)
_mqtls_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}"
  local -a req=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    req+=("$cur")
  fi
  local IFS=$'\n'
  COMPREPLY=($(compgen -W "$("${req[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o bashdefault -o default -F _mqtls_complete mqtls
`

const zshCompletion = `#compdef mqtls
# zsh completion for mqtls: source <(mqtls completion zsh) after compinit,
# or save it as _mqtls in a folder of $fpath.
_mqtls() {
  local -a opts
  local cur=${words[-1]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[@]:0:#words[@]-1} ${cur} --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[@]:0:#words[@]-1} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ "${opts[1]}" != "" ]]; then
    _describe 'values' opts
  else
    _files
  fi
}
if [[ "$funcstack[1]" == "_mqtls" ]]; then
  _mqtls "$@"
else
  compdef _mqtls mqtls
fi
`
