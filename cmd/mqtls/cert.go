package main

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/fileio"
)

func certCmd() *cli.Command {
	return &cli.Command{
		Name:  "cert",
		Usage: "issue, list, inspect, revoke and renew certificates",
		Description: `Examples:
   $ mqtls cert server --host liot.com --host localhost --ip 192.168.7.123
   $ mqtls cert client DSN000001 --days 30
   $ mqtls cert list --expiring 30d
   $ mqtls cert inspect DSN000001
   $ mqtls cert revoke DSN000001 --reason keyCompromise
   $ mqtls cert renew server

Exit codes: 0 done, 1 failure, 2 misuse.`,
		Subcommands: []*cli.Command{certServerCmd(), certClientCmd(), certSignCmd(), certClaimCmd(), certListCmd(), certInspectCmd(), certRevokeCmd(), certRenewCmd()},
	}
}

func keyTypeFlag() cli.Flag {
	return &cli.StringFlag{Name: "key-type", Usage: "key `TYPE`: ec (P-256), rsa (2048) or rsa3072", Value: "ec"}
}

func certServerCmd() *cli.Command {
	return &cli.Command{
		Name:      "server",
		Usage:     "issue a broker certificate (serverAuth)",
		ArgsUsage: "[HOST|IP]...",
		Description: fmt.Sprintf(`Examples:
   $ mqtls cert server localhost 127.0.0.1
   $ mqtls cert server --host liot.com --host localhost --ip 192.168.7.123
   $ mqtls cert server --name edge1 --host edge1.lan --days 398

Every --host and --ip, and every argument (an IP address, else a host name),
becomes a subjectAltName (clients check those, not the CN); the first host is
also the CN. Writes issued/NAME.crt (certificate then
issuing CA: a broker's certfile) and issued/NAME.key (0600). At most %d days.`, certs.MaxServerDays),
		Flags: []cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.StringSliceFlag{Name: "host", Usage: "a DNS `NAME` of the broker (repeat)"},
			&cli.StringSliceFlag{Name: "ip", Usage: "an `IP` address of the broker (repeat)"},
			&cli.StringFlag{Name: "name", Usage: "certificate `NAME` in the PKI folder", Value: "server"},
			&cli.IntFlag{Name: "days", Usage: "validity in `DAYS`", Value: certs.DefaultServerDays},
			&cli.StringFlag{Name: "org", Usage: "subject organisation `O`"},
			keyTypeFlag(),
		},
		Action: func(c *cli.Context) error {
			hosts, ips, err := serverNames(c, c.Args().Slice())
			if err != nil {
				return err
			}
			kt, err := certs.ParseKeyType(c.String("key-type"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			req := certs.Request{Kind: certs.Server, Name: c.String("name"), Hosts: hosts, IPs: ips,
				Org: c.String("org"), Days: c.Int("days"), KeyType: kt}
			return issue(c, req)
		},
	}
}

// serverNames are a server certificate's names: --host, --ip, then the
// arguments (an IP address is an --ip, anything else a --host), as mkcert
// takes them.
func serverNames(c *cli.Context, args []string) ([]string, []net.IP, error) {
	hosts := c.StringSlice("host")
	var ips []net.IP
	for _, s := range c.StringSlice("ip") {
		ip, err := certs.ParseIP(s)
		if err != nil {
			return nil, nil, usageErrorf("%v", err)
		}
		ips = append(ips, ip)
	}
	for _, a := range args {
		if ip := net.ParseIP(a); ip != nil {
			ips = append(ips, ip)
		} else {
			hosts = append(hosts, a)
		}
	}
	return hosts, ips, nil
}

func certClientCmd() *cli.Command {
	return &cli.Command{
		Name:      "client",
		Usage:     "issue a device certificate (clientAuth, CN = the device id)",
		ArgsUsage: "<device-id>",
		Description: `Examples:
   $ mqtls cert client DSN000001
   $ mqtls cert client DSN000001 --days 30 --org "Acme IoT"
   $ mqtls p12 DSN000001            # then bundle it for a phone

The device id becomes the CN, which brokers with use_identity_as_username
take as the username and topics as a level. It must be 1 to 64 bytes of
printable ASCII without spaces, '/', '+', '#' or ':'. Writes issued/ID.crt
and issued/ID.key (0600). Run again
after a crash that left the certificate without its files, it revokes that
certificate and issues a new one.`,
		Flags: []cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.IntFlag{Name: "days", Usage: "validity in `DAYS`", Value: certs.DefaultClientDays},
			&cli.StringFlag{Name: "org", Usage: "subject organisation `O`"},
			keyTypeFlag(),
		},
		Action: func(c *cli.Context) error {
			id, err := oneArg(c, "device id")
			if err != nil {
				return err
			}
			if err := certs.ValidateID(id); err != nil {
				return usageErrorf("%v", err)
			}
			kt, err := certs.ParseKeyType(c.String("key-type"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			return issue(c, certs.Request{Kind: certs.Client, Name: id, Org: c.String("org"), Days: c.Int("days"), KeyType: kt})
		},
	}
}

// issue checks the request before asking for the CA password, then issues.
func issue(c *cli.Context, req certs.Request) error {
	req, err := req.Normalize()
	if err != nil {
		return usageErrorf("%v", err)
	}
	a, err := openCA(c)
	if err != nil {
		return err
	}
	unfinished, replaced, err := a.Unfinished(req.Name)
	if err != nil {
		return err
	}
	iss, err := a.Issue(req)
	if err != nil {
		return err
	}
	w := c.App.Writer
	if replaced {
		fmt.Fprintf(w, "completed an interrupted issue of %q: its certificate (serial %s) had no files; revoked it as superseded\n", req.Name, unfinished.Serial)
	}
	fmt.Fprintf(w, "issued %s certificate %q (serial %s, until %s)\n", req.Kind, iss.Name, certs.SerialHex(iss.Cert), iss.Cert.NotAfter.Format(time.DateOnly))
	if req.Kind == certs.Server {
		fmt.Fprintf(w, "  names: %s\n", strings.Join(sanList(iss.Cert), ", "))
	}
	fmt.Fprintf(w, "  %s\n  %s\n", a.IssuedPath(iss.Name, ".crt"), a.IssuedPath(iss.Name, ".key"))
	warnCRL(c, a)
	return nil
}

// sanList is a certificate's DNS names, then its IP addresses.
func sanList(crt *x509.Certificate) []string {
	sans := append([]string(nil), crt.DNSNames...)
	for _, ip := range crt.IPAddresses {
		sans = append(sans, ip.String())
	}
	return sans
}

func warnCRL(c *cli.Context, a *ca.CA) {
	for _, w := range a.CRLWarnings(time.Now()) {
		warnf(c.App.ErrWriter, "%s", w)
	}
}

func certListCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list issued certificates",
		Description: `Examples:
   $ mqtls cert list
   $ mqtls cert list --expiring 30d     # current certificates that expire within 30 days
   $ mqtls cert list --json

Without --expiring every certificate of the index is listed, revoked and
superseded ones too. --expiring takes days (30d), weeks (2w) or a Go duration
(12h) and lists only current certificates.`,
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag(), jsonFlag(),
			&cli.StringFlag{Name: "expiring", Usage: "only current certificates expiring within `PERIOD` (30d, 2w, 12h)"},
		},
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("cert list takes no arguments, got %q", c.Args().First())
			}
			var within time.Duration
			if s := c.String("expiring"); s != "" {
				d, err := certs.ParsePeriod(s)
				if err != nil {
					return usageErrorf("--expiring: %v", err)
				}
				within = d
			}
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			all, err := a.List()
			if err != nil {
				return err
			}
			now := time.Now()
			list := all
			if within > 0 {
				list = ca.Expiring(all, now, within)
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, list)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tKIND\tSERIAL\tNOT AFTER\tSTATUS")
			for _, e := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.Name, e.Kind, e.Serial, e.NotAfter.Format(time.DateOnly), e.Status(now))
			}
			return tw.Flush()
		},
	}
}

// inspectOutput is the --json shape of cert inspect: the certificate's
// fields plus where it came from and its state in the CA.
type inspectOutput struct {
	certs.Info
	Name      string    `json:"name,omitempty"`
	File      string    `json:"file"`
	Status    string    `json:"status"`
	RevokedAt time.Time `json:"revoked_at,omitzero"`
	Reason    string    `json:"reason,omitempty"`
}

func certInspectCmd() *cli.Command {
	return &cli.Command{
		Name:      "inspect",
		Usage:     "show a certificate: subject, SANs, usage, validity, fingerprint, revoked or not",
		ArgsUsage: "<NAME|FILE>",
		Description: `Examples:
   $ mqtls cert inspect DSN000001            # issued/DSN000001.crt of the PKI folder
   $ mqtls cert inspect ./client.crt         # any PEM or DER certificate file
   $ mqtls cert inspect server --json

An argument with a '/' or ending in .crt, .pem, .cer or .der that names an
existing file is a FILE; anything else is a NAME in the PKI folder. For a
file the revocation status comes from the PKI folder when the certificate
was issued by its CA, else it is "not issued by this CA".`,
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag(), jsonFlag()},
		Action: func(c *cli.Context) error {
			arg, err := oneArg(c, "NAME or FILE")
			if err != nil {
				return err
			}
			var a *ca.CA
			path := arg
			isFile := isFilePath(arg)
			if !isFile {
				if err := certs.ValidateID(arg); err != nil {
					return usageErrorf("%q is neither a file nor a certificate name: %v", arg, err)
				}
				if a, err = loadCA(c); err != nil {
					return err
				}
				path = a.IssuedPath(arg, ".crt")
			} else if ca.Exists(pkiDir(c)) {
				if a, err = ca.Load(pkiDir(c)); err != nil {
					return err
				}
			}
			cert, err := readCertFile(path)
			if err != nil {
				if !isFile && errors.Is(err, os.ErrNotExist) {
					return withHint(fmt.Errorf("no certificate named %q in %s", arg, pkiDir(c)), "see mqtls cert list")
				}
				return err
			}
			out := inspectOutput{Info: certs.Inspect(cert), File: path, Status: ca.StateUnknown}
			if a != nil {
				st, err := a.Check(cert, time.Now())
				if err != nil {
					return err
				}
				out.Status = st.State
				if st.Entry != nil {
					out.Name = st.Entry.Name
					out.RevokedAt, out.Reason = st.Entry.RevokedAt, st.Entry.Reason
				}
			}
			if c.Bool("json") {
				return printJSON(c.App.Writer, out)
			}
			printInspect(c, out)
			return nil
		},
	}
}

func isFilePath(arg string) bool {
	if strings.ContainsRune(arg, filepath.Separator) {
		return true
	}
	switch strings.ToLower(filepath.Ext(arg)) {
	case ".crt", ".pem", ".cer", ".der":
		_, err := os.Stat(arg)
		return err == nil
	}
	return false
}

// maxCertFile bounds what cert inspect reads: a certificate chain is a few
// KiB, so a larger file is the wrong one.
const maxCertFile = 1 << 20

func readCertFile(path string) (*x509.Certificate, error) {
	b, err := fileio.ReadFile(path, maxCertFile, "a certificate")
	if err != nil {
		return nil, fmt.Errorf("read certificate: %w", err)
	}
	if blk, _ := pem.Decode(b); blk == nil {
		if c, err := x509.ParseCertificate(b); err == nil {
			return c, nil
		}
	}
	cs, err := fileio.ParseCerts(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cs[0], nil
}

func printInspect(c *cli.Context, o inspectOutput) {
	tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 1, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "%s:\t%s\n", k, v)
		}
	}
	row("file", o.File)
	row("name", o.Name)
	row("subject", o.Subject)
	row("issuer", o.Issuer)
	row("serial", o.Serial)
	row("dns names", strings.Join(o.DNSNames, ", "))
	row("ip addresses", strings.Join(o.IPAddresses, ", "))
	row("key", o.KeyType)
	row("key usage", strings.Join(o.KeyUsage, ", "))
	row("ext key usage", strings.Join(o.ExtKeyUsage, ", "))
	if o.Identity != "" {
		row("client login", "as "+o.Identity)
	} else if o.IdentityRefused != "" {
		row("client login", "refused: "+o.IdentityRefused)
	}
	if o.IsCA {
		row("ca", "yes")
	}
	row("not before", o.NotBefore.Format(time.RFC3339))
	row("not after", o.NotAfter.Format(time.RFC3339))
	row("sha256", o.SHA256)
	st := o.Status
	if o.Reason != "" {
		st += fmt.Sprintf(" (%s, %s)", o.Reason, o.RevokedAt.Format(time.RFC3339))
	}
	row("status", st)
	tw.Flush()
}

func certRevokeCmd() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "revoke a certificate and regenerate crl.pem at once",
		ArgsUsage: "<NAME|SERIAL>",
		Description: `Examples:
   $ mqtls cert revoke DSN000001 --reason keyCompromise
   $ mqtls cert revoke 5F3A09C2E1...                   # by serial (hex, colons allowed)

A NAME revokes its newest certificate; a name wins over a serial that reads
the same. Reasons: unspecified (default), keyCompromise, cACompromise,
affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn.
Brokers that watch crl.pem (mqtls broker) refuse the certificate at once;
Mosquitto needs a reload (SIGHUP).

crl.pem is written before the index records the revocation, so a crash
never leaves a certificate revoked in the index but admitted by brokers.
Running it again after a crash completes the work and says so; revoking a
certificate that is already revoked checks that crl.pem lists it.

Exit codes: 0 revoked (also when it already was), 1 failure, 2 misuse.`,
		Flags: []cli.Flag{pkiFlag(), caPasswordFileFlag(),
			&cli.StringFlag{Name: "reason", Usage: "RFC 5280 `REASON`", Value: "unspecified"},
		},
		Action: func(c *cli.Context) error {
			arg, err := oneArg(c, "NAME or SERIAL")
			if err != nil {
				return err
			}
			reason, err := ca.ParseReason(c.String("reason"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			a, err := openCA(c)
			if err != nil {
				return err
			}
			r, err := a.Revoke(arg, reason)
			w := c.App.Writer
			printRepair(w, r.Repair)
			if err != nil {
				return err
			}
			switch {
			case r.Completed:
				// printRepair named it.
			case r.Already:
				fmt.Fprintf(w, "%q (serial %s) was already revoked on %s (%s); %s lists it\n", r.Name, r.Serial, r.RevokedAt.Format(time.RFC3339), r.Reason, a.CRLPath())
			default:
				fmt.Fprintf(w, "revoked %q (serial %s, %s)\nwrote %s\n", r.Name, r.Serial, r.Reason, a.CRLPath())
			}
			for _, p := range r.Pending {
				fmt.Fprintf(w, "revoked its certificate %s too, which a renewal had left valid until %s\n", p.Serial, p.GraceUntil.Local().Format("2006-01-02 15:04"))
			}
			warnCRL(c, a)
			return nil
		},
	}
}

func certRenewCmd() *cli.Command {
	return &cli.Command{
		Name:      "renew",
		Usage:     "new key and certificate under the same name; the old one stays valid for --grace",
		ArgsUsage: "<NAME>",
		Description: `Examples:
   $ mqtls cert renew DSN000001
   $ mqtls cert renew server --host localhost --host extra.local --ip 127.0.0.1
   $ mqtls cert renew DSN000001 --new-password        # the rewritten p12 gets a new password

Keeps the profile of the current certificate (kind, names, organisation,
days) and overwrites issued/NAME.crt and issued/NAME.key; --host and --ip
give a server certificate new names (they replace the old ones). When
issued/NAME.p12 exists it is rewritten with the new key and certificate, in
its format and with the password of NAME.p12.pass (--new-password: a new
random one; --password-file: a chosen one), so the bundle never holds the
replaced certificate. The old
certificate stays valid for --grace (default 7d: a device keeps working
until the new files reach it); mqtls ca crl revokes it as superseded once
the grace has ended, and cert list shows it until then. --grace 0 revokes
it at once and regenerates crl.pem. After a crash, running it again
completes the interrupted renewal (the old certificate is revoked) and
issues a new certificate.`,
		Flags: append([]cli.Flag{pkiFlag(), caPasswordFileFlag(), graceFlag(),
			&cli.StringSliceFlag{Name: "host", Usage: "server certificate: a new DNS `NAME` (repeat; replaces the old names)"},
			&cli.StringSliceFlag{Name: "ip", Usage: "server certificate: a new `IP` address (repeat; replaces the old names)"},
		}, renewP12Flags()...),
		Action: func(c *cli.Context) error {
			name, err := idArg(c, "NAME")
			if err != nil {
				return err
			}
			ro, err := renewOptions(c)
			if err != nil {
				return err
			}
			if ro.Hosts, ro.IPs, err = serverNames(c, nil); err != nil {
				return err
			}
			ch, err := p12Choice(c)
			if err != nil {
				return err
			}
			a, err := openCA(c)
			if err != nil {
				return err
			}
			// Decided before the renewal, so that a bundle that cannot be
			// rewritten stops it with nothing changed.
			po, hasP12, err := a.RenewP12(name, ch)
			if err != nil {
				return err
			}
			ren, err := a.Renew(name, ro)
			printRepair(c.App.Writer, ren.Repair)
			if err != nil {
				return err
			}
			iss := ren.Issued
			w := c.App.Writer
			fmt.Fprintf(w, "renewed %q (serial %s, until %s); %s\n", name, certs.SerialHex(iss.Cert), iss.Cert.NotAfter.Format(time.DateOnly), oldFate(ren.Old.Serial, ren.Old.GraceUntil))
			if iss.Kind == certs.Server {
				fmt.Fprintf(w, "  names: %s\n", strings.Join(sanList(iss.Cert), ", "))
			}
			fmt.Fprintf(w, "  %s\n  %s\n", a.IssuedPath(name, ".crt"), a.IssuedPath(name, ".key"))
			if !hasP12 {
				return nil
			}
			res, err := a.WriteP12(iss, po)
			if err != nil {
				return fmt.Errorf("renewed %s but rewriting its p12 failed (run mqtls p12 %s): %w", name, name, err)
			}
			printP12(c, res, po.Modern, ch)
			return nil
		},
	}
}

func graceFlag() cli.Flag {
	return &cli.StringFlag{Name: "grace", Value: "7d", Usage: "keep the old certificate valid for `PERIOD` (7d, 2w, 12h; 0 revokes it now)"}
}

// renewOptions reads --grace.
func renewOptions(c *cli.Context) (ca.RenewOptions, error) {
	s := strings.TrimSpace(c.String("grace"))
	if s == "0" || s == "0s" || s == "0d" {
		return ca.RenewOptions{}, nil
	}
	d, err := certs.ParsePeriod(s)
	if err != nil {
		return ca.RenewOptions{}, usageErrorf("--grace: %v (or 0 to revoke the old certificate now)", err)
	}
	return ca.RenewOptions{Grace: d}, nil
}

// oldFate says what became of the certificate a renewal replaced.
func oldFate(serial string, until time.Time) string {
	if until.IsZero() {
		return "the old certificate " + serial + " is revoked as superseded"
	}
	return "the old certificate " + serial + " stays valid until " + until.Local().Format("2006-01-02 15:04") + " (mqtls ca crl revokes it then)"
}
