package main

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/certs"
)

func certClaimCmd() *cli.Command {
	return &cli.Command{
		Name:      "claim",
		Usage:     "issue a claim certificate: a batch identity good only for enrolling devices over MQTT",
		ArgsUsage: "<NAME>",
		Description: fmt.Sprintf(`Examples:
   $ mqtls cert claim line3-2026w49 --max-uses 500
   $ mqtls cert claim lab --days 7

A device leaves the factory with a claim certificate, connects once to a
listener with enrollment true and asks for its own identity (mqtls enroll;
the protocol is in the README). The claim's CN is claim:NAME, which no
device id can be, and it carries the claim extension (OID %s): the broker
lets it use the enrollment topics only, on listeners with enrollment true,
and refuses it everywhere else. --max-uses bounds the devices it may enroll
(0: no limit); the index counts them. Revoke it (mqtls cert revoke
claim-NAME) when the batch is done.

Writes issued/claim-NAME.crt and issued/claim-NAME.key (0600).`, certs.OIDClaim),
		Flags: []cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.IntFlag{Name: "days", Usage: "validity in `DAYS`", Value: certs.DefaultClaimDays},
			&cli.IntFlag{Name: "max-uses", Usage: "enroll at most `N` devices with it (0: no limit)"},
			keyTypeFlag(),
		},
		Action: func(c *cli.Context) error {
			name, err := oneArg(c, "claim name")
			if err != nil {
				return err
			}
			kt, err := certs.ParseKeyType(c.String("key-type"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			req, err := certs.Request{Kind: certs.Claim, Name: name, Days: c.Int("days"), MaxUses: c.Int("max-uses"), KeyType: kt}.Normalize()
			if err != nil {
				return usageErrorf("%v", err)
			}
			a, err := openCA(c)
			if err != nil {
				return err
			}
			iss, err := a.Issue(req)
			if err != nil {
				return err
			}
			uses := "no limit on uses"
			if req.MaxUses > 0 {
				uses = fmt.Sprintf("at most %d uses", req.MaxUses)
			}
			fmt.Fprintf(c.App.Writer, "issued claim certificate %q (CN %s, serial %s, until %s, %s)\n  %s\n  %s\n",
				iss.Name, iss.Cert.Subject.CommonName, certs.SerialHex(iss.Cert), iss.Cert.NotAfter.Format(time.DateOnly), uses,
				a.IssuedPath(iss.Name, ".crt"), a.IssuedPath(iss.Name, ".key"))
			warnCRL(c, a)
			return nil
		},
	}
}
