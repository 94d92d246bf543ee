package ca

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"

	"mqtls/internal/fileio"
)

// File names inside the PKI folder.
const (
	RootCertFile = "root.crt"
	RootKeyFile  = "root.key"
	CACertFile   = "ca.crt"
	CAKeyFile    = "ca.key"
	ChainFile    = "chain.pem"
	CRLFile      = "crl.pem"
	IndexFile    = "index.jsonl"
	LockFile     = "index.lock"
	IssuedDir    = "issued"
)

// Errors callers branch on.
var (
	// ErrNoCA: the folder holds no CA.
	ErrNoCA = errors.New("no CA found")
	// ErrCAExists: Init refuses to overwrite a CA.
	ErrCAExists = errors.New("a CA already exists")
	// ErrWrongPassword: the CA password does not decrypt the keys.
	ErrWrongPassword = errors.New("wrong CA password")
	// ErrPasswordNeeded: the keys are encrypted and no password was given.
	ErrPasswordNeeded = errors.New("the CA key is encrypted and no password was given")
	// ErrLocked: a signing operation on a CA from Load (no keys).
	ErrLocked = errors.New("the CA was loaded without its keys")
	// ErrExists: the name already has a current certificate.
	ErrExists = errors.New("already issued")
	// ErrNotFound: no certificate of that name or serial.
	ErrNotFound = errors.New("no such certificate")
	// ErrRevoked: the certificate is already revoked.
	ErrRevoked = errors.New("already revoked")
	// ErrCorruptIndex: the index has a damaged line; it is never overwritten.
	ErrCorruptIndex = errors.New("corrupt index")
)

// CA is a certificate authority folder. From [Load] it can read; from [Open]
// it can also sign. It is safe for concurrent use.
type CA struct {
	dir string
	// Root is the root certificate; Issuer signs leaves (the intermediate,
	// or the root when there is none).
	Root   *x509.Certificate
	Issuer *x509.Certificate

	rootKey   crypto.Signer // nil until needed (CRL) or for a Load-ed CA
	issuerKey crypto.Signer
	password  []byte
	keyMu     sync.Mutex
	deferSync atomic.Bool
	files     filesLock
	cleanOnce sync.Once
	crlc      crlCache

	idx *index
}

// Dir is the PKI folder.
func (c *CA) Dir() string { return c.dir }

// Path returns the path of a file in the PKI folder (e.g. ca.ChainFile).
func (c *CA) Path(name string) string { return filepath.Join(c.dir, name) }

// ChainPath is chain.pem, a broker's cafile.
func (c *CA) ChainPath() string { return c.Path(ChainFile) }

// CRLPath is crl.pem, a broker's crlfile.
func (c *CA) CRLPath() string { return c.Path(CRLFile) }

// IssuedPath is the path of issued/NAME+ext, e.g. IssuedPath("server", ".crt").
func (c *CA) IssuedPath(name, ext string) string {
	return filepath.Join(c.dir, IssuedDir, name+ext)
}

// HasIntermediate reports whether leaves are signed by an intermediate.
func (c *CA) HasIntermediate() bool { return !bytes.Equal(c.Issuer.Raw, c.Root.Raw) }

// Chain is the issuing CA first, then the root (one certificate without an
// intermediate).
func (c *CA) Chain() []*x509.Certificate {
	if c.HasIntermediate() {
		return []*x509.Certificate{c.Issuer, c.Root}
	}
	return []*x509.Certificate{c.Root}
}

// CanSign reports whether the CA was opened with its keys.
func (c *CA) CanSign() bool { return c.issuerKey != nil }

// Exists reports whether dir holds a CA (its root certificate).
func Exists(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, RootCertFile))
	return err == nil
}

// Load reads the CA certificates and the index of dir, without keys.
func Load(dir string) (*CA, error) {
	c := &CA{dir: dir}
	var err error
	if c.Root, err = readCert(filepath.Join(dir, RootCertFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w in %s: create one with mqtls ca init (or pass --pki DIR)", ErrNoCA, dir)
		}
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if c.Issuer, err = readCert(filepath.Join(dir, CACertFile)); err != nil {
		return nil, fmt.Errorf("load CA: %w", err)
	}
	if c.idx, err = openIndex(dir); err != nil {
		return nil, err
	}
	return c, nil
}

// Open loads the CA of dir and decrypts the issuing key with password (nil
// for a CA made without one). The root key is decrypted later, when a CRL is
// signed.
func Open(dir string, password []byte) (*CA, error) {
	c, err := Load(dir)
	if err != nil {
		return nil, err
	}
	c.password = bytes.Clone(password)
	keyFile := CAKeyFile
	if !c.HasIntermediate() {
		keyFile = RootKeyFile
	}
	k, err := readKey(filepath.Join(dir, keyFile), password, c.Issuer)
	if err != nil {
		return nil, err
	}
	c.issuerKey = k
	if !c.HasIntermediate() {
		c.rootKey = k
	}
	// Issuing writes into issued/: make sure it is there (and 0700) before
	// an index line promises files.
	if err := fileio.MkdirPrivate(filepath.Join(dir, IssuedDir)); err != nil {
		return nil, err
	}
	c.removeTemps()
	// A revoke cut after crl.pem and before its index line is completed
	// here, so that the next run starts from files that agree.
	if _, err := c.recordCRL(); err != nil {
		return nil, fmt.Errorf("complete an interrupted revoke: %w", err)
	}
	return c, nil
}

// Encrypted reports whether the CA keys of dir are password-protected.
func Encrypted(dir string) (bool, error) {
	b, err := fileio.ReadFile(filepath.Join(dir, RootKeyFile), fileio.MaxPEM, "a CA key")
	if err != nil {
		return false, fmt.Errorf("load CA: %w", err)
	}
	return bytes.Contains(b, []byte("ENCRYPTED PRIVATE KEY")), nil
}

// signerForCRL returns the root key, decrypting it on first use.
func (c *CA) rootSigner() (crypto.Signer, error) {
	c.keyMu.Lock()
	defer c.keyMu.Unlock()
	if c.rootKey != nil {
		return c.rootKey, nil
	}
	if c.issuerKey == nil {
		return nil, ErrLocked
	}
	k, err := readKey(c.Path(RootKeyFile), c.password, c.Root)
	if err != nil {
		return nil, err
	}
	c.rootKey = k
	return k, nil
}

func readCert(path string) (*x509.Certificate, error) {
	cs, err := fileio.ReadCerts(path)
	if err != nil {
		return nil, err
	}
	return cs[0], nil
}
