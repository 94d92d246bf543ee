package main

import (
	"fmt"
	"os"

	"github.com/urfave/cli/v2"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/p12"
)

func p12Cmd() *cli.Command {
	return &cli.Command{
		Name:      "p12",
		Usage:     "bundle an issued key, certificate and chain as PKCS#12 for phones and Java",
		ArgsUsage: "<NAME>",
		Description: `Examples:
   $ mqtls p12 DSN000001                      # issued/DSN000001.p12 + .p12.pass (random password)
   $ mqtls p12 DSN000001 --modern             # AES for Android 14+, iOS 17+, Java 12+
   $ mqtls p12 DSN000001 --password-file pw.txt --out /tmp/phone.p12

The default format is 3DES with a SHA-1 MAC (2048 iterations): the only one
Android 10-13, iOS and macOS import. It is weak encryption, so the password
is long and random: it is written to NAME.p12.pass (0600) and never printed
unless --show-password. With --password-file, no .pass file is written, and
an older one that holds another password is removed. It needs no CA
password.

Exit codes: 0 done, 1 failure, 2 misuse.`,
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag(),
			&cli.BoolFlag{Name: "modern", Usage: "AES-256/PBKDF2 instead of the phone-safe 3DES default"},
			&cli.StringFlag{Name: "password-file", Usage: "take the p12 password from `FILE` instead of a random one"},
			&cli.StringFlag{Name: "out", Usage: "write the bundle to `FILE` (default issued/NAME.p12)"},
			&cli.BoolFlag{Name: "show-password", Usage: "print the password on standard output"},
			&cli.BoolFlag{Name: "force", Usage: "overwrite an existing --out file"},
		},
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "NAME")
			if err != nil {
				return err
			}
			if err := certs.ValidateID(name); err != nil {
				return usageErrorf("%v", err)
			}
			opts := ca.P12Options{Modern: c.Bool("modern"), Out: c.String("out")}
			if opts.Out != "" && !c.Bool("force") {
				if _, err := os.Stat(opts.Out); err == nil {
					return usageErrorf("%s exists: pass --force to overwrite it", opts.Out)
				}
			}
			if f := c.String("password-file"); f != "" {
				pw, err := readSecretFile(f, "p12 password")
				if err != nil {
					return err
				}
				if err := p12.CheckPassword(string(pw)); err != nil {
					return err
				}
				opts.Password = string(pw)
			}
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			res, err := a.ExportP12(name, opts)
			if err != nil {
				return err
			}
			format := "legacy 3DES, phone-safe"
			if opts.Modern {
				format = "modern AES-256"
			}
			w := c.App.Writer
			fmt.Fprintf(w, "wrote %s (%s)\n", res.Path, format)
			if res.PasswordPath != "" {
				fmt.Fprintf(w, "password in %s\n", res.PasswordPath)
			}
			if c.Bool("show-password") {
				fmt.Fprintf(w, "password: %s\n", res.Password)
			}
			return nil
		},
	}
}

func showPasswordFlag() cli.Flag {
	return &cli.BoolFlag{Name: "show-password", Usage: "print the p12 password on standard output"}
}

// renewP12Flags say how cert renew and device renew rewrite the p12.
func renewP12Flags() []cli.Flag {
	return []cli.Flag{
		&cli.BoolFlag{Name: "new-password", Usage: "give the rewritten p12 a new random password (default: keep the one in NAME.p12.pass)"},
		&cli.StringFlag{Name: "new-password-file", Usage: "give the rewritten p12 the password in `FILE`"},
		&cli.BoolFlag{Name: "modern", Usage: "write the p12 as AES/PBKDF2 (default: the form it had; older Android, iOS and macOS reject AES)"},
		showPasswordFlag(),
	}
}

// p12Choice reads --new-password, --new-password-file and --modern.
func p12Choice(c *cli.Context) (ca.P12Choice, error) {
	ch := ca.P12Choice{NewPassword: c.Bool("new-password"), Modern: c.Bool("modern")}
	f := c.String("new-password-file")
	if f == "" {
		return ch, nil
	}
	if ch.NewPassword {
		return ch, usageErrorf("flag '--new-password' is incompatible with '--new-password-file'")
	}
	pw, err := readSecretFile(f, "p12 password")
	if err != nil {
		return ch, err
	}
	if err := p12.CheckPassword(string(pw)); err != nil {
		return ch, err
	}
	ch.Password = string(pw)
	return ch, nil
}

// printP12 says where a bundle went and where its password is; the password
// itself only with --show-password.
func printP12(c *cli.Context, res ca.P12Result, modern bool, ch ca.P12Choice) {
	format := "legacy 3DES, phone-safe"
	if modern {
		format = "modern AES-256"
	}
	w := c.App.Writer
	fmt.Fprintf(w, "wrote %s (%s)\n", res.Path, format)
	switch {
	case res.PasswordPath != "":
		fmt.Fprintf(w, "password in %s\n", res.PasswordPath)
	case ch.Password != "":
		fmt.Fprintf(w, "password from %s\n", c.String("new-password-file"))
	default:
		fmt.Fprintf(w, "password unchanged, in %s.pass\n", res.Path)
	}
	if c.Bool("show-password") {
		fmt.Fprintf(w, "password: %s\n", res.Password)
	}
}
