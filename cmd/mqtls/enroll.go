package main

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/urfave/cli/v2"
	"go.step.sm/crypto/pemutil"

	"mqtls/broker"
	"mqtls/ca"
	"mqtls/certs"
	"mqtls/client"
	"mqtls/conf"
	"mqtls/enroll"
	"mqtls/internal/fileio"
)

func enrollCmd() *cli.Command {
	return &cli.Command{
		Name:      "enroll",
		Usage:     "get this device's own certificate from a broker with enrollment true (zero-touch, with a claim certificate), or renew it",
		ArgsUsage: " ",
		Description: `Examples:
   $ mqtls enroll --id DSN000001 --claim-cert claim-line3.crt --claim-key claim-line3.key \
       -h broker.example --cafile ca.crt --out /data/mqtt
       writes /data/mqtt/DSN000001.key (0600) and DSN000001.crt
   $ mqtls enroll --renew --cert /data/mqtt/DSN000001.crt --key /data/mqtt/DSN000001.key \
       -h broker.example --cafile ca.crt
       a new key and certificate for the same id, in place of the old ones

The reference device side of the enrollment protocol (README, "Enrollment
over MQTT"). It makes a new key here and writes it first (0600; it is never
sent), sends a CSR for the id to $CONTROL/mqtls/enroll/v1 over MQTT 5,
writes the certificate the broker signed, then connects once with the new
identity to prove it works. Run again after a lost answer, it finds the
key in --out and asks with it: the broker answers with the same certificate. With --renew it asks with the device's current certificate;
the broker revokes the old one when the new one logs in.

Exit codes: 0 enrolled; 1 failure (the broker's refusal is printed);
2 misuse; 7 TLS failure; otherwise the broker's CONNACK code.`,
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "id", Usage: "the device `ID` to enroll (with --renew: the certificate's CN)"},
			&cli.StringFlag{Name: "claim-cert", Usage: "the claim certificate `FILE` (PEM)"},
			&cli.StringFlag{Name: "claim-key", Usage: "the claim key `FILE` (PEM)"},
			&cli.StringFlag{Name: "out", Usage: "write ID.crt and ID.key into `DIR` (default: the current folder; with --renew, over --cert and --key)"},
			&cli.BoolFlag{Name: "renew", Usage: "renew the certificate given with --cert and --key"},
			&cli.DurationFlag{Name: "timeout", Value: enroll.DefaultTimeout, Usage: "give up after `DURATION`"},
			keyTypeFlag(),
		}, enrollConnFlags()...),
		Action: enrollAction,
	}
}

// enrollConnFlags are the connection flags that make sense here: --id is
// the device id (the client id of the proof login), and the login is the
// certificate's.
func enrollConnFlags() []cli.Flag {
	skip := []string{"id", "id-prefix", "username", "pw", "password-file", "p12", "p12-password-file",
		"disable-clean-session", "session-expiry", "debug", "quiet", "will-topic", "will-payload", "will-qos", "will-retain"}
	var out []cli.Flag
	for _, f := range connFlags() {
		if !slices.Contains(skip, f.Names()[0]) {
			out = append(out, f)
		}
	}
	return out
}

func enrollAction(c *cli.Context) error {
	if c.NArg() > 0 {
		return usageErrorf("unexpected argument %q", c.Args().First())
	}
	kt, err := certs.ParseKeyType(c.String("key-type"))
	if err != nil {
		return usageErrorf("%v", err)
	}
	id, renew := c.String("id"), c.Bool("renew")
	certPath, keyPath := c.String("cert"), c.String("key")
	if renew {
		if certPath == "" || keyPath == "" || c.IsSet("claim-cert") || c.IsSet("claim-key") {
			return usageErrorf("--renew renews the certificate of --cert and --key (not a claim)")
		}
		cn, err := certCN(certPath)
		if err != nil {
			return err
		}
		if id != "" && id != cn {
			return usageErrorf("--id %s: the certificate of --cert is %s's, and a device renews only its own", id, cn)
		}
		id = cn
	} else {
		if id == "" || !c.IsSet("claim-cert") || !c.IsSet("claim-key") {
			return usageErrorf("give --id, --claim-cert and --claim-key (or --renew with --cert and --key)")
		}
		if certPath != "" || keyPath != "" {
			return usageErrorf("--cert and --key are for --renew; a new device enrolls with --claim-cert and --claim-key")
		}
		certPath, keyPath = c.String("claim-cert"), c.String("claim-key")
	}
	if err := certs.ValidateID(id); err != nil {
		return usageErrorf("--id: %v", err)
	}
	if !tlsOn(c) {
		return usageErrorf("enrollment is over TLS: give --cafile (the broker's CA)")
	}
	o, _, err := connOptions(c)
	if err != nil {
		return usageErrorf("%v", err)
	}
	if o.Version != client.V5 {
		return usageErrorf("enrollment is MQTT 5 request/response: -V must be 5")
	}
	o.ClientID = "" // the broker assigns the request's client id; the proof login is id's
	o.TLS.CertFile, o.TLS.KeyFile = certPath, keyPath
	outCrt, outKey := certPath, keyPath
	if dir := c.String("out"); dir != "" || !renew {
		if dir == "" {
			dir = "."
		}
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("--out: %w", err)
		}
		outCrt, outKey = filepath.Join(dir, id+".crt"), filepath.Join(dir, id+".key")
	}
	ctx, cancel := context.WithTimeout(c.Context, c.Duration("timeout"))
	defer cancel()
	var iss *enroll.Issued
	if renew {
		iss, err = enroll.Ask(ctx, o, id, kt)
	} else {
		var key crypto.Signer
		if key, err = deviceKey(c, outKey, kt); err != nil {
			return err
		}
		iss, err = enroll.AskWithKey(ctx, o, id, key)
	}
	if err != nil {
		var re *enroll.RefusedError
		if errors.As(err, &re) {
			return cli.Exit(re.Error(), 1)
		}
		return toolFail(c, err)
	}
	// The key first: a certificate without its key is of no use, a key
	// without its certificate is simply asked for again.
	if err := fileio.WriteFile(outKey, iss.KeyPEM, 0o600); err != nil {
		return err
	}
	if err := fileio.WriteFile(outCrt, []byte(iss.Certificate), 0o644); err != nil {
		return err
	}
	w := c.App.Writer
	fmt.Fprintf(w, "%s %s (serial %s, until %s)\n  %s\n  %s\n", iss.Status, id, certs.SerialHex(iss.Leaf), iss.Leaf.NotAfter.Format(time.DateOnly), outCrt, outKey)
	proof := o
	t := *o.TLS
	t.CertFile, t.KeyFile = outCrt, outKey
	proof.TLS, proof.ClientID = &t, id
	conn, err := client.Connect(ctx, proof)
	if err != nil {
		return cli.Exit(fmt.Sprintf("the new certificate is written, but it did not log in: %v", err), client.ExitCode(err))
	}
	_ = conn.Close()
	fmt.Fprintf(w, "logged in as %s with the new certificate\n", id)
	return nil
}

// deviceKey is the key of a first enrollment: the one in path, left by an
// earlier try whose answer was lost (the broker answers a request with the
// same key with the certificate it issued for it, where a new key would be
// refused as already enrolled), or a new one of type kt, written to path
// (0600) before it is sent.
func deviceKey(c *cli.Context, path string, kt certs.KeyType) (crypto.Signer, error) {
	b, err := fileio.ReadFile(path, fileio.MaxPEM, "a private key")
	switch {
	case err == nil:
		k, err := pemutil.Parse(b)
		if err != nil {
			return nil, fmt.Errorf("the key of an earlier try, %s: %w (remove it to start over with a new key)", path, err)
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("%s is not a signing key (remove it to start over with a new key)", path)
		}
		fmt.Fprintf(c.App.Writer, "asking with the key of an earlier try, %s\n", path)
		return s, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, err
	}
	key, err := certs.NewKey(kt)
	if err != nil {
		return nil, err
	}
	pemKey, err := certs.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	if err := fileio.WriteFile(path, pemKey, 0o600); err != nil {
		return nil, err
	}
	return key, nil
}

// certCN reads the CN of the first certificate of a PEM file.
func certCN(path string) (string, error) {
	cs, err := fileio.ReadCerts(path)
	if err != nil {
		return "", fmt.Errorf("--cert: %w", err)
	}
	return cs[0].Subject.CommonName, nil
}

// startEnrollment gives the broker its enrollment service when a listener
// has enrollment true: the CA of enroll_pki, opened with the password of
// enroll_ca_password_file (never logged), and the broker's dynsec store.
func startEnrollment(cfg *conf.Config, b *broker.Broker, log *slog.Logger) error {
	if !slices.ContainsFunc(cfg.Listeners, func(l *conf.Listener) bool { return l.Enrollment }) {
		return nil
	}
	var pw []byte
	if cfg.EnrollCAPasswordFile != "" {
		var err error
		if pw, err = readSecretFile(cfg.EnrollCAPasswordFile, "enroll_ca_password_file"); err != nil {
			return err
		}
	}
	a, err := ca.Open(cfg.EnrollPKI, pw)
	if errors.Is(err, ca.ErrPasswordNeeded) {
		return fmt.Errorf("enroll_pki %s: %w: set enroll_ca_password_file", cfg.EnrollPKI, err)
	}
	if err != nil {
		return fmt.Errorf("enroll_pki %s: %w", cfg.EnrollPKI, err)
	}
	svc, err := enroll.New(enroll.Config{CA: a, Store: b.DynamicSecurity(), Role: cfg.EnrollRole, Group: cfg.EnrollGroup, Log: log})
	if err != nil {
		return err
	}
	b.SetEnroller(svc)
	log.Info(fmt.Sprintf("Enrollment on: signing with %s (issuing CA %s), new devices get role %q, group %q.", cfg.EnrollPKI, a.Issuer.Subject.CommonName, cfg.EnrollRole, cfg.EnrollGroup))
	return nil
}
