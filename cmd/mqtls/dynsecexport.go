package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/urfave/cli/v2"

	"mqtls/dynsec/export"
)

func dynsecExportCmd() *cli.Command {
	return &cli.Command{
		Name:      "export",
		Usage:     "write the roles and ACLs as a clustered broker's authorization files (EMQX, HiveMQ)",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls dynsec -f dynamic-security.json export --to emqx --out emqx
       acl.conf (EMQX's file authorization) and emqx.conf (an mTLS listener,
       peer_cert_as_username = cn, acl.conf as the authorization source)
   $ mqtls dynsec -f dynamic-security.json export --to emqx-db --out emqx-db
       authz-users.json (the rules for EMQX's built-in database, to POST to
       /api/v5/authorization/sources/built_in_database/rules/users) and
       emqx.conf with the built-in database as the authorization source
   $ mqtls dynsec -f dynamic-security.json export --to hivemq --out hivemq --certs-dir /opt/hivemq/conf/pki
       credentials.xml (HiveMQ's File RBAC extension) and config.xml (a TLS
       listener that requires a client certificate)

Each client's ACLs are written in the order mqtls applies them. What the
target cannot express (receive and unsubscribe ACLs, $CONTROL, HiveMQ's lack
of deny, the CRL) is left out so that the target grants less, never more, and
printed, one note a line. --certs-dir is the PKI folder (chain.pem,
issued/, crl.pem) as the target's host sees it: the export reads no PKI.`,
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "to", Usage: "the target: " + export.TargetList(), Required: true},
			&cli.StringFlag{Name: "out", Usage: "write the files into `FOLDER` (created 0700)", Required: true},
			&cli.StringFlag{Name: "certs-dir", Value: "pki", Usage: "the PKI `FOLDER` as the target's host sees it, for the listener's paths"},
			&cli.StringFlag{Name: "server", Value: "server", Usage: "the server certificate's `NAME` in pki/issued"},
			&cli.IntFlag{Name: "port", Value: 8883, Usage: "the listener's `PORT`"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("export takes no arguments, got %q", c.Args().First())
			}
			if !slices.Contains(export.Targets, c.String("to")) {
				return usageErrorf("--to %q: want %s", c.String("to"), export.TargetList())
			}
			s, err := dynsecSnapshot(c)
			if err != nil {
				return err
			}
			pki, name := c.String("certs-dir"), c.String("server")
			r, err := export.To(c.String("to"), s, export.Listener{
				Port:     c.Int("port"),
				CAFile:   filepath.Join(pki, "chain.pem"),
				CertFile: filepath.Join(pki, "issued", name+".crt"),
				KeyFile:  filepath.Join(pki, "issued", name+".key"),
				P12File:  filepath.Join(pki, "issued", name+".p12"),
				CRLFile:  filepath.Join(pki, "crl.pem"),
			})
			if err != nil {
				return err
			}
			if err := r.Write(c.String("out")); err != nil {
				return err
			}
			for _, f := range r.Files {
				fmt.Fprintf(c.App.Writer, "wrote %s\n", filepath.Join(c.String("out"), f.Name))
			}
			for _, n := range r.Notes {
				fmt.Fprintf(c.App.Writer, "note: %s\n", n)
			}
			return nil
		},
	}
}
