package main

import (
	"crypto/x509"
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/certs"
	"mqtls/internal/fileio"
)

func certSignCmd() *cli.Command {
	return &cli.Command{
		Name:      "sign",
		Usage:     "issue a certificate for a device's own CSR (the key never leaves the device)",
		ArgsUsage: "<FILE.csr>",
		Description: fmt.Sprintf(`Examples:
   $ openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
       -keyout DSN000001.key -subj /CN=DSN000001 -out DSN000001.csr
   $ mqtls cert sign DSN000001.csr
   $ mqtls cert sign request.der --name DSN000002 --days 90
   $ mqtls cert sign edge1.csr --server --name edge1

Checks the CSR's signature and key (RSA of %d bits or more, EC P-256 or
P-384, Ed25519), takes its public key and its CN as the device id (--name
overrides) and issues a device certificate (clientAuth only). Nothing else
the CSR asks for is honoured: CA:TRUE, serverAuth, keyCertSign and other
extensions are dropped. With --server it issues a broker certificate
(serverAuth) for the CSR's DNS and IP subjectAltNames, checked as cert server
checks --host and --ip. PEM or DER input.

Writes issued/NAME.crt (certificate then issuing CA) and records it in the
index; no key is written. A name that has a current certificate is refused.

Exit codes: 0 issued, 1 failure, 2 misuse.`, certs.MinRSABits),
		Flags: []cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.StringFlag{Name: "name", Usage: "certificate `NAME` (device id) instead of the CSR's CN"},
			&cli.IntFlag{Name: "days", Usage: fmt.Sprintf("validity in `DAYS` (default %d, %d with --server)", certs.DefaultClientDays, certs.DefaultServerDays)},
			&cli.BoolFlag{Name: "server", Usage: "issue a broker certificate (serverAuth) for the CSR's DNS and IP names"},
		},
		Action: func(c *cli.Context) error {
			path, err := oneArg(c, "CSR file")
			if err != nil {
				return err
			}
			csr, err := readCSR(path)
			if err != nil {
				return err
			}
			kind := certs.Client
			if c.Bool("server") {
				kind = certs.Server
			}
			if n := c.String("name"); c.IsSet("name") {
				if err := certs.ValidateID(n); err != nil {
					return usageErrorf("--name: %v", err)
				}
			}
			req, err := certs.CSRRequest(csr, kind, c.String("name"), c.Int("days"))
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			req, err = req.Normalize()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			a, err := openCA(c)
			if err != nil {
				return err
			}
			iss, err := a.Issue(req)
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "signed %s certificate %q for %s (serial %s, %s key, until %s)\n  %s\n",
				req.Kind, iss.Name, path, certs.SerialHex(iss.Cert), certs.KeyTypeOf(iss.Cert.PublicKey),
				iss.Cert.NotAfter.Format(time.DateOnly), a.IssuedPath(iss.Name, ".crt"))
			warnCRL(c, a)
			return nil
		},
	}
}

// readCSR reads and checks a certificate request file (PEM or DER).
func readCSR(path string) (*x509.CertificateRequest, error) {
	data, err := fileio.ReadFile(path, certs.MaxCSRSize, "a certificate request")
	if err != nil {
		return nil, fmt.Errorf("read CSR: %w", err)
	}
	csr, err := certs.ParseCSR(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return csr, nil
}
