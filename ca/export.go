package ca

import (
	"crypto"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"go.step.sm/crypto/keyutil"
	"go.step.sm/crypto/pemutil"

	"mqtls/certs"
	"mqtls/internal/fileio"
	"mqtls/p12"
)

// P12Options are the choices of `mqtls p12`.
type P12Options struct {
	// Modern selects AES/PBKDF2 (Modern2023) instead of the phone-safe
	// legacy 3DES default (see package p12).
	Modern bool
	// Password of the bundle; "" means a random one, written to the
	// password file (Path + ".pass"). With a chosen password an older
	// password file there that holds another password is removed, as it
	// would no longer open the bundle.
	Password string
	// Out is the p12 path; "" is issued/NAME.p12.
	Out string
}

// P12Result says where a bundle went.
type P12Result struct {
	// Path of the p12 file (0600).
	Path string
	// PasswordPath is the 0600 file holding a generated password: Path +
	// ".pass". Empty when the caller chose the password.
	PasswordPath string
	// Password of the bundle.
	Password string
}

// WriteP12 bundles a freshly issued key, leaf and chain as PKCS#12. Neither
// the CA keys nor the index are touched, so it may run concurrently.
func (c *CA) WriteP12(iss *certs.Issued, o P12Options) (P12Result, error) {
	return c.writeP12(c.IssuedPath(iss.Name, ".p12"), iss.Key, iss, o)
}

// ExportP12 bundles the issued key and certificate of name, read from
// issued/NAME.key and issued/NAME.crt. It needs no CA password.
func (c *CA) ExportP12(name string, o P12Options) (P12Result, error) {
	if err := certs.ValidateID(name); err != nil {
		return P12Result{}, err
	}
	e, ok, err := c.Lookup(name)
	if err != nil {
		return P12Result{}, err
	}
	if !ok || e.Name != name {
		return P12Result{}, fmt.Errorf("%q: %w (issue it first with mqtls cert client %s)", name, ErrNotFound, name)
	}
	if e.Revoked {
		return P12Result{}, fmt.Errorf("%q is revoked: issue or renew it before exporting", name)
	}
	if e.CSR {
		return P12Result{}, fmt.Errorf("%q was signed from a CSR: its key is on the device only, so there is no p12 to make", name)
	}
	crtPath, keyPath := c.IssuedPath(name, ".crt"), c.IssuedPath(name, ".key")
	crtPEM, err := fileio.ReadFile(crtPath, fileio.MaxPEM, "a certificate")
	if err != nil {
		return P12Result{}, fmt.Errorf("read certificate: %w (renew it with mqtls cert renew %s)", err, name)
	}
	cs, err := fileio.ParseCerts(crtPEM)
	if err != nil {
		return P12Result{}, fmt.Errorf("%s: %w", crtPath, err)
	}
	if certs.SerialHex(cs[0]) != e.Serial {
		return P12Result{}, fmt.Errorf("%s is not the current certificate of %s (serial %s): renew it", crtPath, name, e.Serial)
	}
	k, err := pemutil.Read(keyPath)
	if err != nil {
		return P12Result{}, fmt.Errorf("read key %s: %w", keyPath, err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return P12Result{}, fmt.Errorf("%s holds no private key", keyPath)
	}
	if err := keyutil.VerifyPair(cs[0].PublicKey, signer); err != nil {
		return P12Result{}, fmt.Errorf("%s does not belong to %s: renew it", keyPath, crtPath)
	}
	iss := &certs.Issued{Name: name, Kind: e.Kind, Cert: cs[0], Chain: c.Chain(), Key: signer}
	return c.writeP12(c.IssuedPath(name, ".p12"), signer, iss, o)
}

func (c *CA) writeP12(defPath string, key crypto.Signer, iss *certs.Issued, o P12Options) (P12Result, error) {
	c.removeTemps()
	end, err := c.beginFiles()
	if err != nil {
		return P12Result{}, err
	}
	defer end()
	res := P12Result{Path: o.Out, Password: o.Password}
	if res.Path == "" {
		res.Path = defPath
	}
	if res.Password == "" {
		pw, err := p12.RandomPassword()
		if err != nil {
			return res, err
		}
		res.Password = pw
		res.PasswordPath = res.Path + ".pass"
	}
	data, err := p12.Encode(key, iss.Cert, iss.Chain, res.Password, o.Modern)
	if err != nil {
		return res, err
	}
	// A password file beside the bundle must always open it: the one
	// written now or, when the caller chose the password, one that holds
	// it (the caller's own --password-file, say) or none (an older random
	// one would be stale). On failure the old one is put back.
	passPath := res.Path + ".pass"
	oldPass, oldErr := fileio.ReadFile(passPath, 1<<20, "a p12 password file")
	restore := func() {
		if oldErr == nil {
			c.writeFile(passPath, oldPass, 0o600)
		} else if errors.Is(oldErr, fs.ErrNotExist) {
			os.Remove(passPath)
		}
	}
	// The password file first: a p12 without its password is useless.
	if res.PasswordPath != "" {
		if err := c.writeFile(res.PasswordPath, []byte(res.Password+"\n"), 0o600); err != nil {
			return res, err
		}
	}
	if err := c.writeFile(res.Path, data, 0o600); err != nil {
		if res.PasswordPath != "" {
			restore()
		}
		return res, err
	}
	if res.PasswordPath == "" && oldErr == nil && firstLine(oldPass) != res.Password {
		if err := os.Remove(passPath); err != nil {
			return res, fmt.Errorf("remove the stale password file %s: %w", passPath, err)
		}
	}
	return res, nil
}

// HasFiles reports whether issued/NAME.crt holds the current certificate of
// name and issued/NAME.key exists. After a crash between the index append
// and the file writes (see the package doc) a name can be current without
// its files: idempotent batch jobs should renew such a name rather than skip
// it.
func (c *CA) HasFiles(name string) (bool, error) {
	e, ok, err := c.Lookup(name)
	if err != nil || !ok || e.Name != name || !e.Current {
		return false, err
	}
	cs, err := fileio.ReadCerts(c.IssuedPath(name, ".crt"))
	if err != nil || certs.SerialHex(cs[0]) != e.Serial {
		return false, nil
	}
	if e.CSR {
		return true, nil // the key is the device's own
	}
	if _, err := os.Stat(c.IssuedPath(name, ".key")); err != nil {
		return false, nil
	}
	return true, nil
}

// Current returns the current certificate of name as issued/NAME.crt holds
// it, with its index entry; ok is false when name has no current
// certificate or the file does not hold it (an issue cut before its files
// were written). e is name's newest entry, current or not (zero when the
// index has none). It reads only.
func (c *CA) Current(name string) (iss *certs.Issued, e Entry, ok bool, err error) {
	e, ok, err = c.Lookup(name)
	if err != nil || !ok || e.Name != name {
		return nil, Entry{}, false, err
	}
	if !e.Current {
		return nil, e, false, nil
	}
	cs, err := fileio.ReadCerts(c.IssuedPath(name, ".crt"))
	if errors.Is(err, fs.ErrNotExist) || (err == nil && certs.SerialHex(cs[0]) != e.Serial) {
		return nil, e, false, nil
	}
	if err != nil {
		return nil, e, false, fmt.Errorf("read the certificate of %s: %w", name, err)
	}
	return &certs.Issued{Name: name, Kind: e.Kind, Cert: cs[0], Chain: c.Chain()}, e, true, nil
}

// firstLine is a password file's password: its first line.
func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return strings.TrimSuffix(s, "\r")
}

// P12Choice is what a renewal was told about the p12 it rewrites.
type P12Choice struct {
	// NewPassword asks for a new random password.
	NewPassword bool
	// Password is a chosen one ("" for none).
	Password string
	// Modern asks for the modern form (else the old bundle's form is kept).
	Modern bool
}

// RenewP12 says how a renewal rewrites issued/NAME.p12, so that the bundle
// never keeps the certificate the renewal replaced: with the password its
// .p12.pass file holds (checked to open it) and in its old format, unless ch
// chooses another password or the modern form. ok is false when there is no
// bundle there. It reads only, so a renewal calls it first and fails before
// changing anything.
func (c *CA) RenewP12(name string, ch P12Choice) (o P12Options, ok bool, err error) {
	o = P12Options{Modern: ch.Modern, Password: ch.Password}
	path := c.IssuedPath(name, ".p12")
	data, err := fileio.ReadFile(path, fileio.MaxPEM, "a p12 bundle")
	if errors.Is(err, fs.ErrNotExist) {
		return o, false, nil
	}
	if err != nil {
		return o, false, err
	}
	o.Modern = o.Modern || p12.IsModern(data)
	if ch.NewPassword || ch.Password != "" {
		return o, true, nil
	}
	passPath := path + ".pass"
	pass, err := fileio.ReadFile(passPath, 1<<20, "a p12 password file")
	if errors.Is(err, fs.ErrNotExist) {
		return o, true, fmt.Errorf("%s has a chosen password (there is no %s): give the new bundle one with --password-file FILE, or --new-password", path, passPath)
	}
	if err != nil {
		return o, true, err
	}
	pw := firstLine(pass)
	if _, _, _, err := p12.Decode(data, pw); err != nil {
		return o, true, fmt.Errorf("%s does not open %s: give --new-password or --password-file FILE", passPath, path)
	}
	o.Password = pw
	return o, true, nil
}
