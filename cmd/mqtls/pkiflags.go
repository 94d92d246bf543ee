package main

// Shared flags of the PKI commands: the folder and the CA password.

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"mqtls/ca"
	"mqtls/certs"
)

const (
	pkiEnv        = "MQTLS_PKI"
	caPasswordEnv = "MQTLS_CA_PASSWORD"
	// caPasswordFileEnv names the file --ca-password-file reads when the
	// flag is not given, so that scripts need not pass it everywhere.
	caPasswordFileEnv = "MQTLS_CA_PASSWORD_FILE"
	// minCAPasswordLen applies to new CA passwords only.
	minCAPasswordLen = 8
	maxSecretFile    = 4 << 10
)

func pkiFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "pki",
		Usage:   "the PKI folder `DIR`",
		EnvVars: []string{pkiEnv},
		Value:   "pki",
	}
}

// caPasswordFileFlag is on every command that uses the PKI folder, those
// that need no CA password included, so that one set of flags works with all.
func caPasswordFileFlag() cli.Flag {
	return &cli.StringFlag{
		Name:    "ca-password-file",
		EnvVars: []string{caPasswordFileEnv},
		Usage:   "read the CA password, when one is needed, from `FILE` (else $" + caPasswordEnv + ", else a terminal prompt)",
	}
}

func jsonFlag() cli.Flag {
	return &cli.BoolFlag{Name: "json", Usage: "print JSON"}
}

func pkiDir(c *cli.Context) string {
	if d := c.String("pki"); d != "" {
		return d
	}
	return "pki"
}

// caPassword gets the CA password from --ca-password-file (or the file
// $MQTLS_CA_PASSWORD_FILE names), then $MQTLS_CA_PASSWORD, then a prompt when standard input is a terminal.
// confirm asks twice (for a new CA).
func caPassword(c *cli.Context, confirm bool) ([]byte, error) {
	if f := c.String("ca-password-file"); f != "" {
		return readSecretFile(f, "CA password")
	}
	if v := os.Getenv(caPasswordEnv); v != "" {
		return []byte(v), nil
	}
	fd := int(os.Stdin.Fd())
	if !term.IsTerminal(fd) {
		return nil, withHint(errors.New("the CA password is needed and there is no terminal to ask it on"),
			"give it with --ca-password-file FILE, $"+caPasswordFileEnv+" or $"+caPasswordEnv)
	}
	fmt.Fprint(c.App.ErrWriter, "CA password: ")
	pw, err := term.ReadPassword(fd)
	fmt.Fprintln(c.App.ErrWriter)
	if err != nil {
		return nil, fmt.Errorf("read CA password: %w", err)
	}
	if confirm {
		fmt.Fprint(c.App.ErrWriter, "CA password again: ")
		again, err := term.ReadPassword(fd)
		fmt.Fprintln(c.App.ErrWriter)
		if err != nil {
			return nil, fmt.Errorf("read CA password: %w", err)
		}
		if !bytes.Equal(pw, again) {
			return nil, errors.New("the two passwords differ")
		}
	}
	if len(pw) == 0 {
		return nil, errors.New("the CA password is empty")
	}
	return pw, nil
}

// openCA opens the CA with its keys, asking for the password only when the
// keys are encrypted.
func openCA(c *cli.Context) (*ca.CA, error) {
	dir := pkiDir(c)
	if !ca.Exists(dir) {
		return nil, noCAError(dir)
	}
	enc, err := ca.Encrypted(dir)
	if err != nil {
		return nil, err
	}
	var pw []byte
	if enc {
		if pw, err = caPassword(c, false); err != nil {
			return nil, err
		}
	}
	a, err := ca.Open(dir, pw)
	if errors.Is(err, ca.ErrWrongPassword) {
		return nil, withHint(fmt.Errorf("open CA in %s: %w", dir, err), "check --ca-password-file or $"+caPasswordEnv)
	}
	return a, err
}

// loadCA loads the CA without its keys.
func loadCA(c *cli.Context) (*ca.CA, error) {
	dir := pkiDir(c)
	if !ca.Exists(dir) {
		return nil, noCAError(dir)
	}
	return ca.Load(dir)
}

func noCAError(dir string) error {
	return withHint(fmt.Errorf("no CA in %s", dir), "create one with: mqtls ca init --pki "+dir+" (or set --pki / $"+pkiEnv+")")
}

// oneArg returns the single positional argument or a usage error.
func oneArg(c *cli.Context, what string) (string, error) {
	switch c.NArg() {
	case 1:
		return c.Args().First(), nil
	case 0:
		return "", usageErrorf("missing %s: see mqtls %s --help", what, commandPath(c))
	}
	return "", usageErrorf("one %s only, got %d arguments: %s", what, c.NArg(), strings.Join(c.Args().Slice(), " "))
}

// idArg is the one device id (or certificate name) argument, checked by the
// device id rule: a bad one is misuse.
func idArg(c *cli.Context, what string) (string, error) {
	id, err := oneArg(c, what)
	if err != nil {
		return "", err
	}
	if err := certs.ValidateID(id); err != nil {
		return "", usageErrorf("%v", err)
	}
	return id, nil
}
