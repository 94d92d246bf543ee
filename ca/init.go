package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"go.step.sm/crypto/x509util"

	"mqtls/certs"
	"mqtls/internal/fileio"
)

// Validity of the CA certificates.
const (
	RootYears         = 10
	IntermediateYears = 5
)

// InitOptions are the choices of `mqtls ca init`.
type InitOptions struct {
	// Name is the organisation shown in the CA subjects ("mqtls" if empty).
	Name string
	// KeyType of the CA keys ("" is EC P-256).
	KeyType certs.KeyType
	// NoIntermediate makes the root sign leaves itself (pathlen 0).
	NoIntermediate bool
	// Password encrypts both CA keys. Empty means unencrypted keys: only for
	// throwaway dev CAs.
	Password []byte
	// Now is the issue time; zero means time.Now.
	Now time.Time
}

// Init creates a CA in dir (made 0700 if needed). It refuses a folder that
// already holds a CA. On failure it removes what it wrote; after a crash a
// re-run starts over (see restartInterruptedInit).
func Init(dir string, opts InitOptions) (err error) {
	if Exists(dir) {
		return fmt.Errorf("%w in %s: refusing to overwrite it (use another --pki folder)", ErrCAExists, dir)
	}
	if opts.Name == "" {
		opts.Name = "mqtls"
	}
	kt, err := certs.ParseKeyType(string(opts.KeyType))
	if err != nil {
		return err
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	// Folders this call creates are removed again on failure.
	var made []string
	defer func() {
		if err != nil {
			for i := len(made) - 1; i >= 0; i-- {
				os.Remove(made[i])
			}
		}
	}()
	for _, d := range []string{dir, filepath.Join(dir, IssuedDir)} {
		if _, statErr := os.Stat(d); statErr != nil {
			made = append(made, d)
		}
		if err := fileio.MkdirPrivate(d); err != nil {
			return err
		}
	}

	rootKey, err := certs.NewKey(kt)
	if err != nil {
		return err
	}
	rootPathLen := 1
	if opts.NoIntermediate {
		rootPathLen = 0
	}
	root, err := signCA(&x509.Certificate{
		Subject:    pkix.Name{CommonName: opts.Name + " Root CA", Organization: []string{opts.Name}},
		NotBefore:  now.Add(-certs.Backdate),
		NotAfter:   now.AddDate(RootYears, 0, 0),
		MaxPathLen: rootPathLen, MaxPathLenZero: rootPathLen == 0,
	}, nil, rootKey, rootKey)
	if err != nil {
		return err
	}
	issuer, issuerKey := root, rootKey
	if !opts.NoIntermediate {
		if issuerKey, err = certs.NewKey(kt); err != nil {
			return err
		}
		issuer, err = signCA(&x509.Certificate{
			Subject:        pkix.Name{CommonName: opts.Name + " Issuing CA", Organization: []string{opts.Name}},
			NotBefore:      now.Add(-certs.Backdate),
			NotAfter:       now.AddDate(IntermediateYears, 0, 0),
			MaxPathLen:     0,
			MaxPathLenZero: true,
		}, root, issuerKey, rootKey)
		if err != nil {
			return err
		}
	}

	c := &CA{dir: dir, Root: root, Issuer: issuer, rootKey: rootKey, issuerKey: issuerKey}
	header, err := headerLine(now)
	if err != nil {
		return err
	}
	// index.jsonl comes first: an init cut short is told by it (see
	// restartInterruptedInit).
	files := []initFile{{IndexFile, header, 0o644}}
	if !opts.NoIntermediate {
		b, err := encodeCAKey(issuerKey, opts.Password)
		if err != nil {
			return err
		}
		files = append(files, initFile{CAKeyFile, b, 0o600})
	}
	rootKeyPEM, err := encodeCAKey(rootKey, opts.Password)
	if err != nil {
		return err
	}
	crl, err := c.crlPEM(nil, now, nil, nil)
	if err != nil {
		return err
	}
	chain := certs.PEMCerts(issuer, root)
	if opts.NoIntermediate {
		chain = certs.PEMCerts(root)
	}
	files = append(files,
		initFile{RootKeyFile, rootKeyPEM, 0o600},
		initFile{CACertFile, certs.PEMCerts(issuer), 0o644},
		initFile{ChainFile, chain, 0o644},
		initFile{CRLFile, crl, 0o644},
		// root.crt marks the folder as a CA: it comes last.
		initFile{RootCertFile, certs.PEMCerts(root), 0o644},
	)
	// ca init holds the index lock while it writes: a second init waits and
	// then finds the CA, and a restart (below) never removes the files of
	// an init that is running.
	lockPath := filepath.Join(dir, LockFile)
	_, lockErr := os.Lstat(lockPath)
	lf, err := os.OpenFile(lockPath, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer lf.Close()
	if lockErr != nil {
		defer func() {
			if err != nil {
				os.Remove(lockPath)
			}
		}()
	}
	if err := lockFile(lf); err != nil {
		return fmt.Errorf("lock %s: %w", dir, err)
	}
	defer unlockFile(lf)
	if Exists(dir) {
		return fmt.Errorf("%w in %s: refusing to overwrite it (use another --pki folder)", ErrCAExists, dir)
	}
	restartInterruptedInit(dir, files)
	for _, f := range files {
		if _, err := os.Lstat(filepath.Join(dir, f.name)); err == nil {
			return fmt.Errorf("%s exists but the folder holds no CA: move it away or use another --pki folder", filepath.Join(dir, f.name))
		}
	}
	var written []string
	defer func() {
		if err != nil {
			for _, p := range written {
				os.Remove(p)
			}
		}
	}()
	for _, f := range files {
		p := filepath.Join(dir, f.name)
		if err = fileio.WriteFile(p, f.data, f.perm); err != nil {
			return err
		}
		written = append(written, p)
	}
	return nil
}

// restartInterruptedInit removes what an init cut short left in dir, so
// that a re-run starts over. Init writes index.jsonl first and root.crt
// last, and refuses to start when any of its files exists: so an
// index.jsonl holding only its header, without root.crt, means that every
// file of the list there is that init's (a CA that never existed: nothing
// was issued by it). Temporary files of the list go too. Callers hold the
// index lock.
func restartInterruptedInit(dir string, files []initFile) {
	var names []string
	for _, f := range files {
		names = append(names, f.name)
	}
	removeTempsIn(dir, names)
	idx := filepath.Join(dir, IndexFile)
	b, err := fileio.ReadFile(idx, 1<<20, "an index")
	if err != nil || bytes.Count(b, []byte("\n")) != 1 || !bytes.HasSuffix(b, []byte("\n")) {
		return
	}
	r, err := decodeLine(b[:len(b)-1])
	if err != nil || r.Op != opHeader || r.Format != indexFormat {
		return
	}
	for _, f := range files {
		if f.name != IndexFile {
			os.Remove(filepath.Join(dir, f.name))
		}
	}
	os.Remove(idx)
}

// initFile is one file Init writes.
type initFile struct {
	name string
	data []byte
	perm os.FileMode
}

// signCA signs a CA certificate template (self-signed when parent is nil).
func signCA(t *x509.Certificate, parent *x509.Certificate, key, parentKey crypto.Signer) (*x509.Certificate, error) {
	t.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	t.BasicConstraintsValid = true
	t.IsCA = true
	t.NotBefore = t.NotBefore.UTC().Truncate(time.Second)
	t.NotAfter = t.NotAfter.UTC().Truncate(time.Second)
	if parent == nil {
		parent = t
	}
	c, err := x509util.CreateCertificate(t, parent, key.Public(), parentKey)
	if err != nil {
		return nil, fmt.Errorf("sign CA certificate: %w", err)
	}
	return c, nil
}
