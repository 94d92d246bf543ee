package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/term"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/device"
)

func deviceCmd() *cli.Command {
	return &cli.Command{
		Name:  "device",
		Usage: "onboard devices: key, certificate, p12 and dynamic security client in one step",
		Description: `Examples:
   $ mqtls device add DSN000001 --role device -f dynamic-security.json
   $ mqtls device add DSN000001 --role device -u admin --password-file admin.pw
   $ mqtls device import devices.csv -f dynamic-security.json
   $ mqtls device bundle DSN000001 --host liot.com --qr -f dynamic-security.json
   $ mqtls device list --json -f dynamic-security.json
   $ mqtls device revoke DSN000001 -u admin --password-file admin.pw
   $ mqtls device renew DSN000001

The dynamic security clients live either in a file no broker is serving
(-f FILE) or in a running broker, reached with the connection flags (-h, -p,
-u, --password-file, TLS flags) through $CONTROL/dynamic-security/v1, as
mosquitto_ctrl does. A file a running broker holds is refused.`,
		Subcommands: []*cli.Command{deviceAddCmd(), deviceImportCmd(), deviceBundleCmd(), deviceListCmd(), deviceRevokeCmd(), deviceRenewCmd()},
	}
}

func dynsecFileFlag() cli.Flag {
	return &cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "edit the dynamic security `FILE` (the broker must be stopped)"}
}

// targetFlags are the flags of commands that change dynamic security clients.
func targetFlags(extra ...cli.Flag) []cli.Flag {
	fl := append([]cli.Flag{pkiFlag(), caPasswordFileFlag(), dynsecFileFlag()}, extra...)
	return append(fl, connFlags()...)
}

// openTarget opens -f FILE, or connects to the broker the connection flags name.
func openTarget(c *cli.Context) (device.Target, error) {
	live := liveFlags(c)
	f := c.String("file")
	switch {
	case f != "" && live:
		return nil, usageErrorf("give either -f FILE or the connection flags of a running broker, not both")
	case f != "":
		return device.OpenFile(f)
	case !live:
		return nil, usageErrorf("where are the dynamic security clients? give -f dynamic-security.json (broker stopped) or the broker's connection flags (-h, -p, -u, --password-file)")
	}
	o, err := adminConnOptions(c)
	if err != nil {
		return nil, err
	}
	return device.Dial(c.Context, o)
}

// readTarget opens -f FILE for reading only, or connects to the broker the
// connection flags name; nil when neither is given.
func readTarget(c *cli.Context) (device.Target, error) {
	if c.String("file") == "" && !liveFlags(c) {
		return nil, nil
	}
	if c.String("file") != "" && !liveFlags(c) {
		return device.ReadFile(c.String("file"))
	}
	return openTarget(c)
}

// liveFlags reports whether connection flags name a running broker.
func liveFlags(c *cli.Context) bool {
	for _, n := range []string{"host", "port", "url", "username", "cafile", "p12", "cert"} {
		if c.IsSet(n) {
			return true
		}
	}
	return false
}

// onboarder opens the CA with its keys and the target.
func onboarder(c *cli.Context) (*device.Onboarder, error) {
	a, err := openCA(c)
	if err != nil {
		return nil, err
	}
	t, err := openTarget(c)
	if err != nil {
		return nil, err
	}
	return &device.Onboarder{CA: a, Target: t, Modern: c.Bool("modern")}, nil
}

func closeTarget(o *device.Onboarder, err error) error {
	if o == nil || o.Target == nil {
		return err
	}
	if cerr := o.Target.Close(); err == nil {
		err = cerr
	}
	return err
}

func deviceAddCmd() *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "onboard one device: key, certificate, p12 and dynamic security client",
		ArgsUsage: "<id>",
		Description: `Examples:
   $ mqtls device add DSN000001 -f dynamic-security.json
   $ mqtls device add --csr DSN000002.csr -f dynamic-security.json   # the device made its own key
   $ mqtls device add DSN000001 --role sensor --group plant1 --days 90 -f dynamic-security.json
   $ mqtls device add DSN000001 -h broker.lan -u admin --password-file admin.pw --cafile pki/root.crt

Writes issued/ID.crt, ID.key, ID.p12 and ID.p12.pass in the PKI folder (the
p12 password is printed only with --show-password) and
creates the dynamic security client ID (no password: the device logs in with
its certificate) with the role and group. It is one operation: a failure
revokes the new certificate and removes its files; after a crash, running the
same command again completes the device. Adding a complete device again
changes nothing.

With --csr FILE the device keeps its own key: the CSR is checked and signed as
mqtls cert sign does (its CN is the id unless <id> is given), only
issued/ID.crt is written (no key, no p12), and the client is created.

Exit codes: 0 done (or already done), 1 failure, 2 misuse.`,
		Flags: targetFlags(
			&cli.StringFlag{Name: "role", Value: "device", Usage: "dynamic security `ROLE` of the device"},
			&cli.StringFlag{Name: "group", Usage: "dynamic security `GROUP` to put the device in"},
			&cli.IntFlag{Name: "days", Value: certs.DefaultClientDays, Usage: "certificate validity in `DAYS`"},
			&cli.BoolFlag{Name: "modern", Usage: "AES/PBKDF2 p12 (older Android, iOS and macOS reject it)"},
			&cli.StringFlag{Name: "csr", Usage: "sign the device's own certificate request `FILE` (PEM or DER) instead of making a key"},
			showPasswordFlag(),
		),
		Action: func(c *cli.Context) (err error) {
			spec := device.Spec{Role: c.String("role"), Group: c.String("group"), Days: c.Int("days")}
			if p := c.String("csr"); p != "" {
				if c.NArg() > 1 {
					return usageErrorf("device add --csr takes at most one device id, got %d arguments", c.NArg())
				}
				if c.NArg() == 1 {
					if err := certs.ValidateID(c.Args().First()); err != nil {
						return usageErrorf("%v", err)
					}
				}
				if spec.CSR, err = readCSR(p); err != nil {
					return err
				}
				req, err := certs.CSRRequest(spec.CSR, certs.Client, c.Args().First(), spec.Days)
				if err != nil {
					return fmt.Errorf("%s: %w", p, err)
				}
				spec.ID = req.Name
			} else if spec.ID, err = oneArg(c, "device id"); err != nil {
				return err
			}
			id := spec.ID
			if err := certs.ValidateID(id); err != nil {
				return usageErrorf("%v", err)
			}
			o, err := onboarder(c)
			if err != nil {
				return err
			}
			defer func() { err = closeTarget(o, err) }()
			res, err := o.Add(spec)
			if err != nil {
				return fmt.Errorf("add %s: %w", id, err)
			}
			printResult(c, res)
			return nil
		},
	}
}

func printResult(c *cli.Context, res device.Result) {
	w := c.App.Writer
	switch res.Outcome {
	case device.Skipped:
		fmt.Fprintf(w, "%s: %s, nothing changed\n", res.ID, res.Note)
		return
	case device.Completed:
		fmt.Fprintf(w, "%s: completed (%s)\n", res.ID, res.Note)
	default:
		fmt.Fprintf(w, "%s: added (serial %s)\n", res.ID, res.Serial)
	}
	if res.Cert != "" {
		fmt.Fprintf(w, "certificate: %s\n", res.Cert)
		return
	}
	fmt.Fprintf(w, "p12:      %s\npassword in %s\n", res.P12, res.P12Pass)
	if c.Bool("show-password") {
		pw, err := readSecretFile(res.P12Pass, "p12 password")
		if err != nil {
			warnf(c.App.ErrWriter, "--show-password: %v", err)
			return
		}
		fmt.Fprintf(w, "password: %s\n", pw)
	}
}

func deviceImportCmd() *cli.Command {
	return &cli.Command{
		Name:      "import",
		Usage:     "onboard every device of a CSV file, in parallel",
		ArgsUsage: "<devices.csv>",
		Description: `Examples:
   $ mqtls device import devices.csv -f dynamic-security.json
   $ mqtls device import devices.csv --role sensor -u admin --password-file admin.pw

The file has one device per line: id,role,group,days (group and days
optional; an empty role takes --role). A first line "id,role,group,days" and
lines starting with # are skipped. Bad lines (invalid or duplicate id,
unknown role or group) are reported with their line numbers and the others
are onboarded. Devices already complete are skipped, half-done ones
completed, so the command can run again after an interruption.

Exit codes: 0 every device done, 1 some failed (listed), 2 misuse.`,
		Flags: targetFlags(
			&cli.StringFlag{Name: "role", Value: "device", Usage: "`ROLE` for lines without one"},
			&cli.IntFlag{Name: "workers", Usage: "devices made at once (`N`, default 8 per core)"},
			&cli.BoolFlag{Name: "modern", Usage: "AES/PBKDF2 p12 (older Android, iOS and macOS reject it)"},
		),
		Action: func(c *cli.Context) (err error) {
			path, err := oneArg(c, "CSV file")
			if err != nil {
				return err
			}
			f, err := os.Open(path)
			if err != nil {
				return fmt.Errorf("open device list: %w", err)
			}
			rows, bad, err := device.ParseCSV(f, c.String("role"))
			f.Close()
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			o, err := onboarder(c)
			if err != nil {
				return err
			}
			defer func() { err = closeTarget(o, err) }()
			start := time.Now()
			tty := c.App.ErrWriter == os.Stderr && term.IsTerminal(int(os.Stderr.Fd()))
			ctx, stop := signal.NotifyContext(c.Context, os.Interrupt, syscall.SIGTERM)
			defer stop()
			sum, err := o.Import(rows, bad, device.ImportOptions{Workers: c.Int("workers"), Progress: device.NewProgress(c.App.ErrWriter, tty), Context: ctx})
			for _, f := range sum.Failed {
				fmt.Fprintf(c.App.ErrWriter, "mqtls: %v\n", f)
			}
			fmt.Fprintf(c.App.Writer, "%d devices: %d added, %d completed, %d already done, %d failed (%s)\n",
				sum.Total, sum.Added, sum.Completed, sum.Skipped, len(sum.Failed), time.Since(start).Round(time.Millisecond))
			if err != nil {
				return err
			}
			if sum.NotStarted > 0 {
				return withHint(fmt.Errorf("interrupted: %d devices not started", sum.NotStarted), "run the same command again to finish")
			}
			if len(sum.Failed) > 0 {
				ids := make([]string, 0, len(sum.Failed))
				for _, f := range sum.Failed {
					ids = append(ids, fmt.Sprintf("%s (line %d)", f.ID, f.Line))
				}
				return fmt.Errorf("%d of %d devices failed: %s", len(sum.Failed), sum.Total, strings.Join(ids, ", "))
			}
			return nil
		},
	}
}

func deviceBundleCmd() *cli.Command {
	return &cli.Command{
		Name:      "bundle",
		Usage:     "write what a device or phone needs to connect: folder, zip and QR code",
		ArgsUsage: "<id>",
		Description: `Examples:
   $ mqtls device bundle DSN000001 --host liot.com -f dynamic-security.json
   $ mqtls device bundle DSN000001 --host liot.com -u admin --password-file admin.pw --qr
   $ mqtls device bundle DSN000001 -h 127.0.0.1 -u admin --password-file admin.pw --device-host liot.com

Writes OUT/ID/ with ID.p12, ID.p12.pass, ca.crt (the root, for the trust
store) and connection.json (url, host, port, client id, the certificate's
SHA-256 fingerprint, the topics the device's roles allow, file names), and
OUT/ID.zip with the same files but the password file: send the password by
another channel.

The topics come from the device's roles (its own and its groups'): -f reads
them from the file (only read, so a running broker may hold it), the
connection flags (-u, --password-file, -p, TLS flags) from a running broker,
as the other device commands do. The device connects to --device-host
(default: --host) on --device-port (default 8883, MQTT over TLS).

--qr prints a QR code of mqtts://HOST:PORT?client_id=ID&cert_sha256=HEX: the
broker to connect to and the fingerprint of the certificate in the p12, to
check the bundle that was imported (never the password).`,
		Flags: append([]cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read the device's roles from the dynamic security `FILE`"},
			&cli.StringFlag{Name: "out", Value: ".", Usage: "write the bundle into `DIR`"},
			&cli.StringFlag{Name: "device-host", Usage: "broker `HOST` the device connects to (default: --host)"},
			&cli.IntFlag{Name: "device-port", Value: device.DefaultPort, Usage: "broker `PORT` the device connects to (MQTT over TLS)"},
			&cli.BoolFlag{Name: "qr", Usage: "print the broker URL and the certificate fingerprint as a terminal QR code"},
		}, connFlags()...),
		Action: func(c *cli.Context) error {
			id, err := idArg(c, "device id")
			if err != nil {
				return err
			}
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			o := &device.Onboarder{CA: a}
			// --host is also where the device connects, so it alone does
			// not mean a running broker.
			live := false
			for _, n := range []string{"port", "url", "username", "cafile", "p12", "cert"} {
				live = live || c.IsSet(n)
			}
			switch f := c.String("file"); {
			case f != "" && live:
				return usageErrorf("give either -f FILE or the connection flags of a running broker, not both")
			case f != "":
				if o.Target, err = device.ReadFile(f); err != nil {
					return err
				}
			case live:
				co, err := adminConnOptions(c)
				if err != nil {
					return err
				}
				if o.Target, err = device.Dial(c.Context, co); err != nil {
					return err
				}
				defer o.Target.Close()
			}
			host := c.String("device-host")
			if host == "" {
				host = c.String("host")
			}
			b, err := o.Bundle(id, device.BundleOptions{Out: c.String("out"), Host: host, Port: c.Int("device-port")})
			if err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "folder: %s\nzip:    %s\nurl:    %s\ncert sha256: %s\n", b.Dir, b.Zip, b.Connection.URL, b.Connection.CertSHA256)
			if !b.Connection.TopicsKnown {
				warnf(c.App.ErrWriter, "connection.json lists no topics: give -f FILE or the connection flags of the running broker to read the device's roles")
			}
			if c.Bool("qr") {
				q, err := device.QR(b.Connection)
				if err != nil {
					return err
				}
				fmt.Fprint(c.App.Writer, q)
			}
			return nil
		},
	}
}

func deviceListCmd() *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list devices: role, expiry, revoked, connected now",
		Description: `Examples:
   $ mqtls device list -f dynamic-security.json
   $ mqtls device list --json -f dynamic-security.json --inspector http://127.0.0.1:8088
   $ mqtls device list -u admin --password-file admin.pw

-f reads roles and enabled state from the file (only read: a running broker
may hold it); the connection flags read them from a running broker. --inspector asks a running broker's inspector who is connected;
without it, or when it does not answer, "connected" is unknown (null in JSON).`,
		Flags: append([]cli.Flag{
			pkiFlag(), caPasswordFileFlag(), jsonFlag(),
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "read roles from the dynamic security `FILE`"},
			&cli.StringFlag{Name: "inspector", Usage: "base `URL` of the broker's inspector, to show who is connected"},
		}, connFlags()...),
		Action: func(c *cli.Context) error {
			if c.NArg() > 0 {
				return usageErrorf("device list takes no arguments, got %q", c.Args().First())
			}
			a, err := loadCA(c)
			if err != nil {
				return err
			}
			o := &device.Onboarder{CA: a}
			if o.Target, err = readTarget(c); err != nil {
				return err
			}
			if o.Target != nil {
				defer o.Target.Close()
			}
			var conn map[string]bool
			if u := c.String("inspector"); u != "" {
				if conn, err = device.Connected(c.Context, u); err != nil {
					warnf(c.App.ErrWriter, "%v: connected is unknown", err)
				}
			}
			list, err := o.List(conn, time.Now())
			if err != nil {
				return err
			}
			if c.Bool("json") {
				enc := json.NewEncoder(c.App.Writer)
				enc.SetIndent("", "  ")
				return enc.Encode(list)
			}
			tw := tabwriter.NewWriter(c.App.Writer, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tROLES\tEXPIRES\tSTATE\tCONNECTED")
			for _, d := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", d.ID, strings.Join(d.Roles, ","), d.Expires.Format(time.DateOnly), d.State(o.Target != nil), connectedText(d.Connected))
			}
			return tw.Flush()
		},
	}
}

func connectedText(b *bool) string {
	switch {
	case b == nil:
		return "?"
	case *b:
		return "yes"
	}
	return "no"
}

func deviceRevokeCmd() *cli.Command {
	return &cli.Command{
		Name:      "revoke",
		Usage:     "cut a device off: revoke its certificate, regenerate the CRL, disable its client",
		ArgsUsage: "<id>",
		Description: `Examples:
   $ mqtls device revoke DSN000001 -u admin --password-file admin.pw
   $ mqtls device revoke DSN000001 --reason keyCompromise -f dynamic-security.json

Revokes the certificate and rewrites crl.pem (a broker reloading it refuses
the certificate), then disables the dynamic security client: a running
broker disconnects the device at once. Running it again finishes a revoke
that was interrupted.`,
		Flags: targetFlags(&cli.StringFlag{Name: "reason", Usage: "RFC 5280 `REASON`: keyCompromise, cessationOfOperation, affiliationChanged, superseded, privilegeWithdrawn"}),
		Action: func(c *cli.Context) (err error) {
			id, err := idArg(c, "device id")
			if err != nil {
				return err
			}
			reason, err := ca.ParseReason(c.String("reason"))
			if err != nil {
				return usageErrorf("%v", err)
			}
			o, err := onboarder(c)
			if err != nil {
				return err
			}
			defer func() { err = closeTarget(o, err) }()
			r, err := o.Revoke(id, reason)
			w := c.App.Writer
			printRepair(w, r.Repair)
			if err != nil {
				return err
			}
			switch {
			case r.Completed:
				fmt.Fprintf(w, "%s: certificate %s: completed its interrupted revocation, %s lists it\n", id, r.Serial, o.CA.CRLPath())
			case r.AlreadyRevoked:
				fmt.Fprintf(w, "%s: certificate %s was already revoked\n", id, r.Serial)
			default:
				fmt.Fprintf(w, "%s: certificate %s revoked, %s regenerated\n", id, r.Serial, o.CA.CRLPath())
			}
			switch {
			case r.NoClient:
				warnf(c.App.ErrWriter, "%s has no dynamic security client", id)
			case r.ClientDisabled:
				fmt.Fprintf(w, "%s: dynamic security client disabled\n", id)
			default:
				fmt.Fprintf(w, "%s: dynamic security client was already disabled\n", id)
			}
			for _, m := range o.CA.CRLWarnings(time.Now()) {
				warnf(c.App.ErrWriter, "%s", m)
			}
			return nil
		},
	}
}

func deviceRenewCmd() *cli.Command {
	return &cli.Command{
		Name:      "renew",
		Usage:     "give a device a new key, certificate and p12 (the old certificate stays valid for --grace)",
		ArgsUsage: "<id>",
		Description: `Examples:
   $ mqtls device renew DSN000001
   $ mqtls device renew DSN000001 -f dynamic-security.json
   $ mqtls device renew DSN000001 -u admin --password-file admin.pw
   $ mqtls device renew DSN000001 --grace 0       # revoke the old certificate now

The new certificate has the same id and validity length. The old one stays
valid for --grace (default 7d), so the device that holds it stays online
until it gets the new p12; mqtls ca crl (daily, from cron) revokes it when
the grace ends, and mqtls cert list shows it as superseded until then.
--grace 0 revokes it at once as superseded and regenerates crl.pem.
Revoking the device revokes both. The p12 is rewritten in its form and with
the password of ID.p12.pass (--new-password: a new random one,
--new-password-file: a chosen one), so the device imports it as before.
The dynamic security client is unchanged; -f (only read: a running broker may
hold it) or the connection flags of a running broker only check that it
exists.`,
		Flags: append(append([]cli.Flag{
			pkiFlag(), caPasswordFileFlag(),
			&cli.StringFlag{Name: "file", Aliases: []string{"f"}, Usage: "check the device's client in the dynamic security `FILE`"},
			graceFlag(),
		}, renewP12Flags()...), connFlags()...),
		Action: func(c *cli.Context) error {
			id, err := idArg(c, "device id")
			if err != nil {
				return err
			}
			ro, err := renewOptions(c)
			if err != nil {
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
			o := &device.Onboarder{CA: a}
			if o.Target, err = readTarget(c); err != nil {
				return err
			}
			if o.Target != nil {
				defer o.Target.Close()
			}
			res, err := o.Renew(id, ro, ch)
			printRepair(c.App.Writer, res.Repair)
			if err != nil {
				if errors.Is(err, ca.ErrNotFound) {
					return withHint(err, "see mqtls device list")
				}
				return err
			}
			fmt.Fprintf(c.App.Writer, "%s: renewed (serial %s); %s\n", id, res.Serial, oldFate(res.OldSerial, res.GraceUntil))
			printP12(c, ca.P12Result{Path: res.P12, PasswordPath: res.P12Pass, Password: res.P12Password}, res.P12Modern, ch)
			if res.Note != "" {
				warnf(c.App.ErrWriter, "%s", res.Note)
			}
			return nil
		},
	}
}
