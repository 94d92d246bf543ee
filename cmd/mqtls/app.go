package main

// Output rules: results go to standard output; everything else goes to
// standard error with an "mqtls:" prefix, lower case, no period at the end.
// Exit codes: 0 success, 1 failure, 2 misuse (bad flags or arguments).

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/urfave/cli/v2"
)

func newApp(stdout, stderr io.Writer) *cli.App {
	// -h is the host for pub and sub, as in the Mosquitto tools: help is --help only.
	cli.HelpFlag = &cli.BoolFlag{Name: "help", Usage: "show help"}
	cli.VersionFlag = &cli.BoolFlag{Name: "version", Usage: "print the version"}
	cli.VersionPrinter = func(c *cli.Context) { printVersion(c.App.Writer) }
	cmds := append(commands(), metaCommands()...)
	prepareTree(cmds)
	return &cli.App{
		Name:                      "mqtls",
		Usage:                     "certificate authority, secure MQTT broker, MQTT clients and topic viewer",
		Version:                   version(),
		Writer:                    stdout,
		ErrWriter:                 stderr,
		HideHelpCommand:           true,
		DisableSliceFlagSeparator: true,
		Commands:                  cmds,
		EnableBashCompletion:      true,
		ExitErrHandler:            func(*cli.Context, error) {},
		Action:                    rootAction,
		OnUsageError:              onUsageError,
	}
}

// commands lists every command group. Each lives in its own file.
func commands() []*cli.Command {
	return []*cli.Command{
		caCmd(),
		certCmd(),
		p12Cmd(),
		brokerCmd(),
		pubCmd(),
		subCmd(),
		dynsecCmd(),
		topicCmd(),
		benchCmd(),
		watchCmd(),
		deviceCmd(),
		enrollCmd(),
	}
}

// run is main without the exit, for tests.
func run(args []string, stdout, stderr io.Writer) int {
	app := newApp(stdout, stderr)
	if n := len(args); n > 0 && args[n-1] == "--generate-bash-completion" {
		// Shell completion: urfave reads the words as typed.
		return report(stderr, app.Run(args))
	}
	err := app.Run(reorderArgs(app, args))
	return report(stderr, err)
}

// report prints err once, with its hint, and returns the exit code.
func report(stderr io.Writer, err error) int {
	if err == nil {
		return 0
	}
	var ex cli.ExitCoder
	if errors.As(err, &ex) && err.Error() == "" {
		return ex.ExitCode()
	}
	// One line per problem: a config file's errors come all at once.
	for _, line := range strings.Split(err.Error(), "\n") {
		fmt.Fprintf(stderr, "mqtls: error: %s\n", line)
	}
	var h *hintError
	if errors.As(err, &h) {
		fmt.Fprintf(stderr, "mqtls: hint: %s\n", h.hint)
	}
	var u *usageError
	if errors.As(err, &u) {
		return 2
	}
	if errors.As(err, &ex) {
		return ex.ExitCode()
	}
	return 1
}

// usageError marks misuse of the command line: exit code 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, a ...any) error {
	return &usageError{msg: fmt.Sprintf(format, a...)}
}

// hintError carries a one-line suggestion printed after the error.
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() }
func (e *hintError) Unwrap() error { return e.err }

func withHint(err error, hint string) error {
	if err == nil {
		return nil
	}
	return &hintError{err: err, hint: hint}
}

// warnf prints a diagnostic line on standard error.
func warnf(w io.Writer, format string, a ...any) {
	fmt.Fprintf(w, "mqtls: warning: "+format+"\n", a...)
}

// commandPath is the command being run with its parents, e.g. "device
// renew" (urfave's FullName drops the parents of a subcommand).
func commandPath(c *cli.Context) string {
	var names []string
	for _, ctx := range c.Lineage() {
		// The app itself is a context too, with a root command of its name.
		if ctx.Command != nil && ctx.Command.Name != "" && ctx.Command.Name != c.App.Name {
			names = append([]string{ctx.Command.Name}, names...)
		}
	}
	return strings.Join(names, " ")
}
