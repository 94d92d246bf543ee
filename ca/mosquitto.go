package ca

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"mqtls/certs"
	"mqtls/internal/fileio"
)

// MosquittoUser is the user (and group) a packaged Mosquitto drops to when
// it starts as root: Debian's and the upstream default.
const MosquittoUser = "mosquitto"

// MosquittoFiles says what [CA.ExportMosquitto] wrote.
type MosquittoFiles struct {
	// Dir is the folder (0755).
	Dir string
	// CAFile (chain.pem: issuing CA then root), CertFile (the server's
	// leaf and issuing CA) and CRLFile (crl.pem) are 0644.
	CAFile, CertFile, CRLFile string
	// KeyFile is the server's key: 0640 with group KeyGroup when that
	// group exists, else 0600 (KeyGroup "").
	KeyFile  string
	KeyGroup string
}

// ExportMosquitto copies what a Mosquitto listener needs for mTLS with
// the server certificate name into dir, readable by a Mosquitto that runs
// as its own user (the PKI folder itself is 0700): cafile, certfile and
// crlfile 0644, keyfile 0640 with group mosquitto, dir 0755. It needs no
// CA password. Run again after a revocation (crl.pem changed) or a
// renewal; each file is replaced atomically.
func (c *CA) ExportMosquitto(dir, name string) (MosquittoFiles, error) {
	if err := c.exportDir(dir); err != nil {
		return MosquittoFiles{}, err
	}
	crtPEM, keyPEM, err := c.serverFiles(name)
	if err != nil {
		return MosquittoFiles{}, err
	}
	chainPEM, err := fileio.ReadFile(c.ChainPath(), fileio.MaxPEM, "a certificate chain")
	if err != nil {
		return MosquittoFiles{}, err
	}
	crlPEM, err := fileio.ReadFile(c.CRLPath(), fileio.MaxPEM, "a CRL")
	if err != nil {
		return MosquittoFiles{}, fmt.Errorf("%w (write it with mqtls ca crl)", err)
	}
	gid, group, err := mosquittoGroup()
	if err != nil {
		return MosquittoFiles{}, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return MosquittoFiles{}, fmt.Errorf("create folder %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		return MosquittoFiles{}, fmt.Errorf("create folder %s: %w", dir, err)
	}
	f := MosquittoFiles{
		Dir:      dir,
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, name+".crt"),
		KeyFile:  filepath.Join(dir, name+".key"),
		CRLFile:  filepath.Join(dir, "crl.pem"),
		KeyGroup: group,
	}
	// The key first: giving it to the group is what may fail, and then
	// nothing has been written.
	if gid >= 0 {
		err = fileio.WriteFileGroup(f.KeyFile, keyPEM, 0o640, gid)
		if errors.Is(err, os.ErrPermission) {
			err = fmt.Errorf("%w (run it as root or as a member of group %s)", err, group)
		}
	} else {
		err = fileio.WriteFile(f.KeyFile, keyPEM, 0o600)
	}
	if err != nil {
		return MosquittoFiles{}, err
	}
	for _, w := range []struct {
		path string
		data []byte
	}{{f.CAFile, chainPEM}, {f.CertFile, crtPEM}, {f.CRLFile, crlPEM}} {
		if err := fileio.WriteFile(w.path, w.data, 0o644); err != nil {
			return MosquittoFiles{}, err
		}
	}
	return f, nil
}

// exportDir refuses a folder inside the PKI folder: its 0700 mode keeps
// the mosquitto user out of everything below it, and widening it would
// expose the CA keys.
func (c *CA) exportDir(dir string) error {
	if dir == "" {
		return fmt.Errorf("no folder given: name the folder Mosquitto reads, for example /etc/mosquitto/certs")
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	pki, err := filepath.Abs(c.dir)
	if err != nil {
		return err
	}
	if rel, err := filepath.Rel(pki, abs); err == nil && (rel == "." || !strings.HasPrefix(rel, "..")) {
		return fmt.Errorf("%s is inside the PKI folder %s, which the mosquitto user cannot enter (0700): export to a folder outside it, for example /etc/mosquitto/certs", dir, c.dir)
	}
	return nil
}

// serverFiles reads the current certificate and key of the server
// certificate name and checks that they belong together.
func (c *CA) serverFiles(name string) (crt, key []byte, err error) {
	if err := certs.ValidateID(name); err != nil {
		return nil, nil, err
	}
	e, ok, err := c.Lookup(name)
	if err != nil {
		return nil, nil, err
	}
	switch {
	case !ok || e.Name != name:
		return nil, nil, fmt.Errorf("%q: %w (issue it first with mqtls cert server --name %s --host HOST)", name, ErrNotFound, name)
	case e.Kind != certs.Server:
		return nil, nil, fmt.Errorf("%q is a %s certificate, not a server certificate: give the name of one (mqtls cert list)", name, e.Kind)
	case e.Revoked:
		return nil, nil, fmt.Errorf("%q is revoked: issue or renew it first", name)
	case e.CSR:
		return nil, nil, fmt.Errorf("%q was signed from a CSR: its key is not in the PKI folder; give Mosquitto the key the request came from", name)
	}
	crtPath, keyPath := c.IssuedPath(name, ".crt"), c.IssuedPath(name, ".key")
	if crt, err = fileio.ReadFile(crtPath, fileio.MaxPEM, "a certificate"); err != nil {
		return nil, nil, err
	}
	cs, err := fileio.ParseCerts(crt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", crtPath, err)
	}
	if certs.SerialHex(cs[0]) != e.Serial {
		return nil, nil, fmt.Errorf("%s is not the current certificate of %s (serial %s): renew it", crtPath, name, e.Serial)
	}
	if key, err = fileio.ReadFile(keyPath, fileio.MaxPEM, "a private key"); err != nil {
		return nil, nil, err
	}
	if _, err := tls.X509KeyPair(crt, key); err != nil {
		return nil, nil, fmt.Errorf("%s and %s do not belong together: renew it (mqtls cert renew %s)", crtPath, keyPath, name)
	}
	return crt, key, nil
}

// mosquittoGroup returns the id of group mosquitto, or -1 when the system
// has no such group.
func mosquittoGroup() (int, string, error) {
	g, err := user.LookupGroup(MosquittoUser)
	var unknown user.UnknownGroupError
	if errors.As(err, &unknown) {
		return -1, "", nil
	}
	if err != nil {
		return -1, "", fmt.Errorf("look up group %s: %w", MosquittoUser, err)
	}
	gid, err := strconv.Atoi(g.Gid)
	if err != nil {
		return -1, "", nil // not a POSIX group id: no group to give the key to
	}
	return gid, MosquittoUser, nil
}
