package main

// mqtls dynsec: mosquitto_ctrl's dynsec commands, on a file (-f) or on a
// live broker over MQTT, plus `check`.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"mqtls/dynsec"
	"mqtls/dynsec/ctl"
	"mqtls/topic"
)

func dynsecCmd() *cli.Command {
	subs := []*cli.Command{dynsecInitCmd(), dynsecCheckCmd(), dynsecExportCmd()}
	for _, c := range ctl.Commands {
		subs = append(subs, dynsecCtrlCmd(c))
	}
	for _, s := range subs {
		s.OnUsageError = dynsecSubUsageError
	}
	return &cli.Command{
		Name:      "dynsec",
		Usage:     "manage dynamic security clients, groups and roles (mosquitto_ctrl dynsec)",
		ArgsUsage: "<command> [arguments]",
		Description: `Examples:
   $ mqtls dynsec init dynamic-security.json admin
       create a configuration with an admin client (asks for its password)
   $ mqtls dynsec -f dynamic-security.json createRole device
   $ mqtls dynsec -f dynamic-security.json addRoleACL device publishClientSend 'devices/%u/#' allow
   $ mqtls dynsec -f dynamic-security.json createClient DSN000001 --no-password
   $ mqtls dynsec -f dynamic-security.json addClientRole DSN000001 device
       edit a file while no broker serves it
   $ mqtls dynsec -h broker.local -u admin --password-file admin.pw getClient DSN000001
       ask a running broker over MQTT, like mosquitto_ctrl
   $ mqtls dynsec -f dynamic-security.json check DSN000001 devices/DSN000001/temp pub
       say which role and ACL allow or deny a publish

The commands, their arguments and their output are mosquitto_ctrl's, and so is
the JSON sent to $CONTROL/dynamic-security/v1. Options (-f, --json and the
connection options) come before the command, as with mosquitto_ctrl.
Differences: new passwords are never taken on the command line (init
--password-file, createClient and setClientPassword --new-password-file, or
a terminal prompt); an error answer exits with code 1; -f edits a file
directly, and refuses while a running mqtls broker holds it.

In an ACL topic, a level "%u" stands for the username (a certificate's CN) and
"%c" for the client id.

Exit codes: 0 success, 1 failure or error answer, 2 misuse.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "work on the dynamic security `FILE` instead of a broker"},
			&cli.BoolFlag{Name: "json", Usage: "print the answer's data as JSON instead of mosquitto_ctrl's text"},
		}, connFlags()...),
		Subcommands: subs,
		Action: func(c *cli.Context) error {
			if c.NArg() == 0 {
				return cli.ShowSubcommandHelp(c)
			}
			return unknownCommand(c, c.Args().First())
		},
	}
}

func dynsecInitCmd() *cli.Command {
	return &cli.Command{
		Name:      "init",
		Usage:     "create a new configuration file with an admin client",
		ArgsUsage: "<new-config-file> <admin-username>",
		Description: `Examples:
   $ mqtls dynsec init dynamic-security.json admin
   $ mqtls dynsec init dynamic-security.json admin --password-file admin.pw

Writes what "mosquitto_ctrl dynsec init" writes (mode 0600): the admin client
may use the $CONTROL/dynamic-security API, read $SYS and subscribe to and
receive everything, but not publish to normal topics. An existing file is
never overwritten.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "password-file", Usage: "read the admin password from the first line of `FILE` (else a terminal prompt)"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) == 3 {
				return withHint(usageErrorf("%s", argvPasswordProblem),
					"give it with --password-file FILE, or leave it out to type it at a prompt")
			}
			if len(args) != 2 {
				return usageErrorf("usage: mqtls dynsec init <new-config-file> <admin-username>")
			}
			file, admin := args[0], args[1]
			if _, err := os.Lstat(file); err == nil {
				return fmt.Errorf("dynsec init: '%s' already exists: remove the file or use a different location", file)
			}
			pw, err := newPassword(c, "password-file", admin, false)
			if err != nil {
				return err
			}
			if pw == nil {
				return errors.New("dynsec init: the admin password is empty")
			}
			if err := dynsec.Init(file, admin, pw); err != nil {
				return err
			}
			w := c.App.Writer
			fmt.Fprintf(w, "The client '%s' has been created in the file '%s'.\n", admin, file)
			fmt.Fprintln(w, "This client is configured to allow you to administer the dynamic security plugin only.")
			fmt.Fprintln(w, "It does not have access to publish messages to normal topics.")
			fmt.Fprintln(w, "You should create your application clients to do that, for example:")
			fmt.Fprintln(w, "   mqtls dynsec <connect options> createClient <username>")
			fmt.Fprintln(w, "   mqtls dynsec <connect options> createRole <rolename>")
			fmt.Fprintln(w, "   mqtls dynsec <connect options> addRoleACL <rolename> publishClientSend my/topic allow [priority]")
			fmt.Fprintln(w, "   mqtls dynsec <connect options> addClientRole <username> <rolename> [priority]")
			fmt.Fprintln(w, "See https://mosquitto.org/documentation/dynamic-security/ for details of all commands.")
			return nil
		},
	}
}

func dynsecCtrlCmd(cc ctl.Command) *cli.Command {
	cmd := &cli.Command{
		Name:      cc.Name,
		Usage:     cc.Usage,
		ArgsUsage: cc.Args,
		Flags:     []cli.Flag{&cli.BoolFlag{Name: "json", Usage: "print the answer's data as JSON"}},
	}
	if cc.Password {
		cmd.Flags = append(cmd.Flags,
			&cli.StringFlag{Name: "new-password-file", Usage: "read the new password from the first line of `FILE` (else a terminal prompt)"},
			// mosquitto_ctrl's -p takes the password on the command line:
			// refused, with a hint.
			&cli.StringFlag{Name: "p", Hidden: true},
		)
	}
	if cc.Name == "createClient" {
		cmd.Flags = append(cmd.Flags,
			&cli.StringFlag{Name: "clientid", Aliases: []string{"c"}, Usage: "the only client `ID` this client may connect with"},
			&cli.BoolFlag{Name: "no-password", Usage: "create the client without a password (certificate logins only)"},
		)
	}
	cmd.Action = func(c *cli.Context) error {
		args := c.Args().Slice()
		var o ctl.Options
		if cc.Password {
			if c.IsSet("p") || (cc.Name == "setClientPassword" && len(args) == 2) {
				return withHint(usageErrorf("%s", argvPasswordProblem),
					"give it with --password-file FILE, or leave it out to type it at a prompt")
			}
			if len(args) == 0 {
				return usageErrorf("usage: mqtls dynsec %s %s", cc.Name, cc.Args)
			}
			if !(cc.Name == "createClient" && c.Bool("no-password")) {
				pw, err := newPassword(c, "new-password-file", args[0], cc.Name == "createClient")
				if err != nil {
					return err
				}
				if pw == nil && cc.Name == "setClientPassword" {
					return errors.New("the new password is empty")
				}
				o.Password = pw
			}
		}
		if cc.Name == "createClient" {
			o.ClientID = c.String("clientid")
		}
		req, err := ctl.BuildRequest(cc.Name, args, o)
		if err != nil {
			if errors.Is(err, ctl.ErrUsage) {
				return usageErrorf("%s", strings.TrimSuffix(err.Error(), ": "+ctl.ErrUsage.Error()))
			}
			return err
		}
		resp, err := dynsecExchange(c, req)
		if err != nil {
			return err
		}
		print := ctl.PrintResponse
		if c.Bool("json") || dynsecParent(c).Bool("json") {
			print = ctl.PrintResponseJSON
		}
		if err := print(c.App.Writer, c.App.ErrWriter, resp); err != nil {
			return cli.Exit("", 1) // already printed, as mosquitto_ctrl does
		}
		return nil
	}
	return cmd
}

func dynsecCheckCmd() *cli.Command {
	return &cli.Command{
		Name:      "check",
		Usage:     "say which role and ACL decide whether a client may publish, subscribe or receive",
		ArgsUsage: "<username> <topic> pub|sub|recv|unsub",
		Description: `Examples:
   $ mqtls dynsec -f dynamic-security.json check DSN000001 devices/DSN000001/temp pub
   allow: role "device" (a role of the client), ACL publishClientSend "devices/%u/#" priority 0
   $ mqtls dynsec -h broker.local -u admin --password-file admin.pw check DSN000001 'devices/#' sub
   $ mqtls dynsec -f dynamic-security.json check '' public/news recv
       an empty username is an anonymous client (the anonymous group decides)

pub is publishClientSend, recv publishClientReceive, sub and unsub subscribe
and unsubscribe. On a broker, check reads the whole configuration through the
control API and decides locally.

Exit codes: 0 allowed, 1 denied or failure, 2 misuse.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "clientid", Aliases: []string{"c"}, Usage: "the client `ID` that %c stands for"},
		},
		Action: func(c *cli.Context) error {
			args := c.Args().Slice()
			if len(args) != 3 {
				return usageErrorf("usage: mqtls dynsec check <username> <topic> pub|sub|recv|unsub")
			}
			access, err := dynsec.ParseAccess(args[2])
			if err != nil {
				return usageErrorf("access %q is not pub, sub, recv or unsub", args[2])
			}
			check := topic.ValidName
			if access == dynsec.Subscribe || access == dynsec.Unsubscribe {
				check = topic.ValidFilter
			}
			if err := check(args[1]); err != nil {
				return usageErrorf("topic %q: %v", args[1], err)
			}
			s, err := dynsecSnapshot(c)
			if err != nil {
				return err
			}
			e := s.Explain(args[0], c.String("clientid"), args[1], access)
			fmt.Fprintln(c.App.Writer, e)
			if !e.Allow {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

// dynsecFile returns the -f file of the dynsec command, "" for live mode.
func dynsecFile(c *cli.Context) string {
	return dynsecParent(c).String("file")
}

// dynsecExchange sends one request to the file's store or to the broker and
// returns the response payload.
func dynsecExchange(c *cli.Context, req []byte) ([]byte, error) {
	t, err := openDynsec(c, dynsecParent(c), dynsecFile(c),
		"change it through the broker: mqtls dynsec -h HOST -u ADMIN ... (without -f)",
		"connecting without TLS: the changes you make, passwords included, are visible on the network")
	if err != nil {
		return nil, err
	}
	resp, err := t.Exec(c.Context, req)
	if cerr := t.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	return resp, nil
}

// dynsecSnapshot reads the whole configuration from the file or the broker.
func dynsecSnapshot(c *cli.Context) (*dynsec.Store, error) {
	if file := dynsecFile(c); file != "" {
		return dynsec.Load(file)
	}
	resp, err := dynsecExchange(c, dynsec.SnapshotRequest)
	if err != nil {
		return nil, err
	}
	return dynsec.FromSnapshot(resp)
}

// newPassword reads a new password for user from the file flag or, on a
// terminal, from two prompts. optional (createClient) allows none: nil is
// returned when the user just presses return, or when there is no terminal.
func newPassword(c *cli.Context, fileFlag, user string, optional bool) ([]byte, error) {
	// The subcommand defines fileFlag, so this reads its own flag, not the
	// connection's --password-file.
	if f := c.String(fileFlag); f != "" {
		return readSecretFile(f, "password")
	}
	// term.IsTerminal, not a character-device test: /dev/null is one too.
	if !term.IsTerminal(int(os.Stdin.Fd())) {
		if optional {
			return nil, nil
		}
		return nil, withHint(errors.New("a password is needed and there is no terminal to ask it on"),
			"give it with --"+fileFlag+" FILE")
	}
	errw := c.App.ErrWriter
	if optional {
		fmt.Fprintf(errw, "Enter new password for %s. Press return for no password (user will be unable to login).\n", user)
	}
	fd := int(os.Stdin.Fd())
	fmt.Fprintf(errw, "New password for %s: ", user)
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(errw)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if len(pw) == 0 {
		return nil, nil
	}
	fmt.Fprintf(errw, "Reenter password for %s: ", user)
	again, err := term.ReadPassword(fd)
	fmt.Fprintln(errw)
	if err != nil {
		return nil, fmt.Errorf("read password: %w", err)
	}
	if !bytes.Equal(pw, again) {
		return nil, errors.New("passwords do not match")
	}
	return pw, nil
}
