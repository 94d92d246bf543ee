package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/ca"
	"mqtls/certs"
)

func caCmd() *cli.Command {
	return &cli.Command{
		Name:  "ca",
		Usage: "create and look after the certificate authority",
		Description: `Examples:
   $ mqtls ca init --name "Acme IoT"                 # root + issuing CA in ./pki, asks for a password
   $ mqtls ca init --no-password --insecure --pki dev # a throwaway dev CA with unencrypted keys
   $ mqtls ca show                                   # the CA, its CRL and what it issued
   $ mqtls ca crl                                    # re-sign crl.pem (run daily from cron)
   $ mqtls ca export /etc/mosquitto/certs --for mosquitto   # files a real Mosquitto can read

The folder is --pki DIR, else $MQTLS_PKI, else ./pki.
Exit codes: 0 done, 1 failure, 2 misuse.`,
		Subcommands: []*cli.Command{caInitCmd(), caShowCmd(), caCRLCmd(), caExportCmd()},
	}
}

func caInitCmd() *cli.Command {
	return &cli.Command{
		Name:  "init",
		Usage: "create a root and an issuing CA",
		Description: `Examples:
   $ mqtls ca init --name "Acme IoT"
   $ mqtls ca init --ca-password-file ca.pass --pki /etc/mqtls/pki
   $ mqtls ca init --no-password --insecure --pki dev   # dev only: keys NOT encrypted

Writes root.crt, ca.crt, chain.pem (issuing CA then root: a broker's cafile),
root.key and ca.key (encrypted PKCS#8, 0600), crl.pem (empty) and the index,
in a 0700 folder. Root 10 years (pathlen 1), issuing CA 5 years (pathlen 0).
It refuses to overwrite an existing CA; after a crash mid-init (root.crt not
written yet) running it again starts over.

Exit codes: 0 done, 1 failure, 2 misuse.`,
		Flags: []cli.Flag{
			pkiFlag(),
			&cli.StringFlag{Name: "name", Usage: "organisation `NAME` shown in the CA subjects", Value: "mqtls"},
			&cli.BoolFlag{Name: "no-intermediate", Usage: "let the root sign certificates itself (no issuing CA)"},
			&cli.StringFlag{Name: "key-type", Usage: "CA key `TYPE`: ec (P-256), rsa (2048) or rsa3072", Value: "ec"},
			caPasswordFileFlag(),
			&cli.BoolFlag{Name: "no-password", Usage: "do not encrypt the CA keys (throwaway dev CAs only; needs --insecure)"},
			&cli.BoolFlag{Name: "insecure", Usage: "confirm --no-password"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("ca init takes no arguments, got %q", c.Args().First())
			}
			kt, err := certs.ParseKeyType(c.String("key-type"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			if c.Bool("no-password") && !c.Bool("insecure") {
				return usageErrorf("flag '--no-password' requires the '--insecure' flag")
			}
			if c.Bool("no-password") && c.String("ca-password-file") != "" {
				return usageErrorf("flag '--no-password' is incompatible with '--ca-password-file'")
			}
			dir := pkiDir(c)
			if ca.Exists(dir) {
				return withHint(fmt.Errorf("a CA already exists in %s: refusing to overwrite it", dir), "use another folder with --pki DIR")
			}
			var pw []byte
			if !c.Bool("no-password") {
				if pw, err = caPassword(c, true); err != nil {
					return err
				}
				if len(pw) < minCAPasswordLen {
					return fmt.Errorf("the CA password is shorter than %d characters", minCAPasswordLen)
				}
			}
			opts := ca.InitOptions{Name: c.String("name"), KeyType: kt, NoIntermediate: c.Bool("no-intermediate"), Password: pw}
			if err := ca.Init(dir, opts); err != nil {
				return fmt.Errorf("ca init: %w", err)
			}
			if pw == nil {
				warnf(c.App.ErrWriter, "the CA keys in %s are NOT encrypted: use this CA only for throwaway development, never for real devices", dir)
			}
			w := c.App.Writer
			fmt.Fprintf(w, "created a CA in %s\n", dir)
			for _, f := range []string{ca.RootCertFile, ca.CACertFile, ca.ChainFile, ca.CRLFile, ca.RootKeyFile, ca.CAKeyFile} {
				if f == ca.CAKeyFile && opts.NoIntermediate {
					continue
				}
				fmt.Fprintf(w, "  %s\n", filepath.Join(dir, f))
			}
			fmt.Fprintf(w, "next: mqtls cert server --host localhost --ip 127.0.0.1 --pki %s\n", dir)
			return nil
		},
	}
}

func caShowCmd() *cli.Command {
	return &cli.Command{
		Name:  "show",
		Usage: "print the CA, its CRL status and what it issued",
		Description: `Examples:
   $ mqtls ca show
   $ mqtls ca show --json | jq .crl

Warns when the CRL is close to its nextUpdate: past it, Mosquitto refuses every
client, while an mqtls broker keeps enforcing it and logs an error.
Fails (exit 1) when crl.pem and the index disagree, as an interrupted revoke
or renew leaves them: mqtls ca crl repairs it.

Exit codes: 0 done, 1 failure or a CRL that needs repair, 2 misuse.`,
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			st, err := a.Status(time.Now())
			if err != nil {
				return err
			}
			for _, w := range st.Warnings {
				warnf(c.App.ErrWriter, "%s", w)
			}
			if c.Bool("json") {
				err = printJSON(c.App.Writer, st)
			} else {
				printStatus(c.App.Writer, st)
			}
			if err != nil || len(st.Problems) == 0 {
				return err
			}
			for _, p := range st.Problems[:len(st.Problems)-1] {
				fmt.Fprintf(c.App.ErrWriter, "mqtls: error: %s\n", p)
			}
			return withHint(errors.New(st.Problems[len(st.Problems)-1]), "run mqtls ca crl to repair it (it needs the CA password)")
		},
	}
}

func printStatus(w io.Writer, st ca.Status) {
	fmt.Fprintf(w, "folder:     %s\n", st.Dir)
	fmt.Fprintf(w, "root:       %s (%s, until %s)\n", st.Root.Subject, st.Root.KeyType, st.Root.NotAfter.Format(time.DateOnly))
	if st.Issuer != nil {
		fmt.Fprintf(w, "issuing CA: %s (%s, until %s)\n", st.Issuer.Subject, st.Issuer.KeyType, st.Issuer.NotAfter.Format(time.DateOnly))
	} else {
		fmt.Fprintf(w, "issuing CA: the root (no intermediate)\n")
	}
	enc := "yes (PKCS#8, PBES2/AES-256)"
	if !st.Encrypted {
		enc = "NO (dev CA)"
	}
	fmt.Fprintf(w, "keys encrypted: %s\n", enc)
	for _, l := range st.CRL {
		fmt.Fprintf(w, "crl: %s: %d revoked, next update %s\n", l.Issuer, l.Revoked, l.NextUpdate.Format(time.RFC3339))
	}
	fmt.Fprintf(w, "certificates: %d issued, %d current, %d revoked, %d expired\n", st.Issued, st.Current, st.Revoked, st.Expired)
}

func caCRLCmd() *cli.Command {
	return &cli.Command{
		Name:  "crl",
		Usage: "re-sign crl.pem with a fresh next update",
		Description: fmt.Sprintf(`Examples:
   $ mqtls ca crl
   $ mqtls ca crl --ca-password-file /etc/mqtls/ca.pass   # daily, from cron

The CRL lasts %d days. Mosquitto refuses every client once it is stale.
It first completes what an interrupted revoke or renew left undone (crl.pem
and the index disagreeing), and says so: this is the repair that ca show
asks for.`, ca.CRLDays),
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag()},
		Action: func(c *cli.Context) error {
			a, err := openCA(c)
			if err != nil {
				return err
			}
			rep, err := a.GenerateCRL()
			printRepair(c.App.Writer, rep)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "wrote %s (valid %d days)\n", a.CRLPath(), ca.CRLDays)
			return nil
		},
	}
}

func caExportCmd() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "copy the CA, a server certificate and the CRL where another broker can read them",
		ArgsUsage: "DIR",
		Description: `Examples:
   $ sudo mqtls ca export /etc/mosquitto/certs --for mosquitto
   $ sudo mqtls ca export /etc/mosquitto/certs --for mosquitto --name broker2

The PKI folder is 0700, so a Mosquitto that drops to its own user (as it
does when started as root without "user root") cannot read the files in it.
This writes DIR/ca.crt (chain.pem), DIR/NAME.crt, DIR/crl.pem (0644) and
DIR/NAME.key (0640, group mosquitto; 0600 when there is no such group) in a
0755 folder DIR outside the PKI folder, and prints the listener lines for
mosquitto.conf. Giving the key to the group needs root or membership of
group mosquitto. Run it again after a revocation (then send Mosquitto a
SIGHUP: it reads crlfile at start-up and on SIGHUP) or a renewal.
No CA password is needed.

Exit codes: 0 done, 1 failure, 2 misuse.`,
		Flags: []cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.StringFlag{Name: "for", Usage: "the broker that reads the files: `mosquitto`", Required: true},
			&cli.StringFlag{Name: "name", Usage: "server certificate `NAME` in the PKI folder", Value: "server"},
		},
		Action: func(c *cli.Context) error {
			dir, err := oneArg(c, "the folder to write")
			if err != nil {
				return err
			}
			if c.String("for") != "mosquitto" {
				return usageErrorf("--for %q: only mosquitto is known", c.String("for"))
			}
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			f, err := a.ExportMosquitto(dir, c.String("name"))
			if err != nil {
				return err
			}
			w := c.App.Writer
			key := "0600 (no group mosquitto on this system)"
			if f.KeyGroup != "" {
				key = "0640, group " + f.KeyGroup
			}
			fmt.Fprintf(w, "wrote %s: ca.crt, %s, crl.pem (0644), %s (%s)\n", f.Dir, filepath.Base(f.CertFile), filepath.Base(f.KeyFile), key)
			fmt.Fprintf(w, "# mosquitto.conf\nlistener 8883\ncafile %s\ncertfile %s\nkeyfile %s\ncrlfile %s\nrequire_certificate true\nuse_identity_as_username true\n",
				abs(f.CAFile), abs(f.CertFile), abs(f.KeyFile), abs(f.CRLFile))
			return nil
		},
	}
}

// abs makes a path absolute for a configuration file read elsewhere.
func abs(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}

// printRepair says what a command completed of runs cut short before it.
func printRepair(w io.Writer, rep ca.Repair) {
	for _, l := range rep.Done() {
		fmt.Fprintln(w, l)
	}
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
