package device

// A device's bundle: what a phone or a device needs to connect, in a folder
// and a zip, and the connection settings as a terminal QR code.

import (
	"archive/zip"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	qrcode "github.com/skip2/go-qrcode"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/fileio"
	"mqtls/p12"
)

// DefaultPort is the MQTT over TLS port a bundle names.
const DefaultPort = 8883

// BundleOptions are the choices of `mqtls device bundle`.
type BundleOptions struct {
	// Out is the folder the bundle folder and zip go into ("." if empty).
	Out string
	// Host and Port of the broker ("localhost" and DefaultPort if empty).
	Host string
	Port int
}

// Connection is connection.json: everything a device needs to connect,
// except the p12 password, which travels apart.
type Connection struct {
	Host            string `json:"host"`
	Port            int    `json:"port"`
	ClientID        string `json:"client_id"`
	Username        string `json:"username"`
	UsernameNote    string `json:"username_note"`
	P12             string `json:"p12"`
	P12PasswordFile string `json:"p12_password_file"`
	CA              string `json:"ca"`
	// URL is mqtts://HOST:PORT, what MQTT apps take as the broker.
	URL string `json:"url"`
	// CertSHA256 is the SHA-256 fingerprint of the device certificate in
	// the p12 (hex, as openssl x509 -fingerprint -sha256 prints it without
	// the colons), so that what was imported can be checked.
	CertSHA256 string   `json:"cert_sha256"`
	Publish    []string `json:"publish"`
	Subscribe  []string `json:"subscribe"`
	// TopicsKnown is false when no dynamic security target was given, so
	// that Publish and Subscribe are empty for want of the roles.
	TopicsKnown bool `json:"-"`
}

// Bundle is what Bundle wrote.
type Bundle struct {
	Dir        string
	Zip        string
	Connection Connection
}

// Bundle writes OUT/ID/ with ID.p12, ID.p12.pass (0600), ca.crt (the root,
// for the trust store) and connection.json, and OUT/ID.zip with the same
// files but the password file: the zip goes to the phone, the password by
// another channel. The topics come from the device's roles on the target
// (nil target: none listed).
func (o *Onboarder) Bundle(id string, opt BundleOptions) (Bundle, error) {
	var b Bundle
	if err := certs.ValidateID(id); err != nil {
		return b, err
	}
	e, ok, err := o.CA.Lookup(id)
	if err != nil {
		return b, err
	}
	if !ok || e.Name != id || e.Kind != certs.Client {
		return b, fmt.Errorf("no device %s: %w (add it with mqtls device add %s)", id, ca.ErrNotFound, id)
	}
	if e.Revoked {
		return b, fmt.Errorf("device %s is revoked: it gets no bundle", id)
	}
	p12Data, err := fileio.ReadFile(o.CA.IssuedPath(id, ".p12"), fileio.MaxPEM, "a p12 bundle")
	if err != nil {
		return b, fmt.Errorf("read the p12 of %s (make it with mqtls p12 %s): %w", id, id, err)
	}
	pass, err := fileio.ReadFile(o.CA.IssuedPath(id, ".p12.pass"), 1<<20, "a p12 password file")
	if err != nil {
		return b, fmt.Errorf("read the p12 password of %s (make both again with mqtls p12 %s): %w", id, id, err)
	}
	pw, _, _ := strings.Cut(strings.TrimRight(string(pass), "\r\n"), "\n")
	_, leaf, _, err := p12.Decode(p12Data, strings.TrimSuffix(pw, "\r"))
	if err != nil {
		return b, fmt.Errorf("the p12 of %s does not open with its .p12.pass (make both again with mqtls p12 %s)", id, id)
	}
	if certs.SerialHex(leaf) != e.Serial {
		return b, fmt.Errorf("the p12 of %s holds an older certificate (serial %s, the current one is %s): make it again with mqtls p12 %s", id, certs.SerialHex(leaf), e.Serial, id)
	}
	sum := sha256.Sum256(leaf.Raw)
	conn := Connection{
		Host: opt.Host, Port: opt.Port, ClientID: id, Username: id,
		UsernameNote:    "no username or password to type: the broker takes the user name from the certificate (CN " + id + ")",
		P12:             id + ".p12",
		P12PasswordFile: id + ".p12.pass",
		CA:              "ca.crt",
		CertSHA256:      hex.EncodeToString(sum[:]),
		Publish:         []string{}, Subscribe: []string{},
	}
	if conn.Host == "" {
		conn.Host = "localhost"
	}
	if conn.Port == 0 {
		conn.Port = DefaultPort
	}
	conn.URL = "mqtts://" + net.JoinHostPort(conn.Host, strconv.Itoa(conn.Port))
	if o.Target != nil {
		if conn.Publish, conn.Subscribe, err = o.topics(id); err != nil {
			return b, err
		}
		conn.TopicsKnown = true
	}
	cj, err := json.MarshalIndent(conn, "", "  ")
	if err != nil {
		return b, err
	}
	cj = append(cj, '\n')
	root := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: o.CA.Root.Raw})

	out := opt.Out
	if out == "" {
		out = "."
	}
	b.Dir = filepath.Join(out, id)
	b.Zip = filepath.Join(out, id+".zip")
	b.Connection = conn
	files := []struct {
		bundleFile
		zip bool
	}{
		{bundleFile{id + ".p12", p12Data, 0o600}, true},
		{bundleFile{"ca.crt", root, 0o644}, true},
		{bundleFile{"connection.json", cj, 0o644}, true},
		{bundleFile{id + ".p12.pass", pass, 0o600}, false},
	}
	var zbuf bytes.Buffer
	zw := zip.NewWriter(&zbuf)
	var folder []bundleFile
	for _, f := range files {
		folder = append(folder, f.bundleFile)
		if !f.zip {
			continue
		}
		h := &zip.FileHeader{Name: id + "/" + f.name, Method: zip.Deflate}
		h.SetMode(f.mode)
		w, err := zw.CreateHeader(h)
		if err == nil {
			_, err = w.Write(f.data)
		}
		if err != nil {
			return b, fmt.Errorf("zip bundle: %w", err)
		}
	}
	if err := zw.Close(); err != nil {
		return b, fmt.Errorf("zip bundle: %w", err)
	}
	if err := writeBundle(b.Dir, b.Zip, folder, zbuf.Bytes()); err != nil {
		return b, err
	}
	return b, nil
}

// topics lists the filters the device's roles (its own and its groups')
// allow it to publish to and subscribe to, with %u and %c replaced by its id.
func (o *Onboarder) topics(id string) (pub, sub []string, err error) {
	cl, has, err := getClient(o.Target, id)
	if err != nil {
		return nil, nil, err
	}
	pub, sub = []string{}, []string{}
	if !has {
		return pub, sub, nil
	}
	roles := append([]string(nil), cl.Roles...)
	for _, g := range cl.Groups {
		gr, err := groupRoles(o.Target, g)
		if err != nil {
			return nil, nil, err
		}
		roles = append(roles, gr...)
	}
	seenP, seenS := map[string]bool{}, map[string]bool{}
	for _, r := range roles {
		acls, _, err := getRole(o.Target, r)
		if err != nil {
			return nil, nil, err
		}
		for _, a := range acls {
			if !a.Allow {
				continue
			}
			t := expand(a.Topic, id)
			switch a.Type {
			case "publishClientSend":
				if !seenP[t] {
					seenP[t] = true
					pub = append(pub, t)
				}
			case "subscribeLiteral", "subscribePattern":
				if !seenS[t] {
					seenS[t] = true
					sub = append(sub, t)
				}
			}
		}
	}
	sort.Strings(pub)
	sort.Strings(sub)
	return pub, sub, nil
}

// expand replaces the %u and %c levels of a filter with the device id (for a
// device, the user name and the client id are both its id).
func expand(filter, id string) string {
	levels := strings.Split(filter, "/")
	for i, l := range levels {
		if l == "%u" || l == "%c" {
			levels[i] = id
		}
	}
	return strings.Join(levels, "/")
}

// QRPayload is what the QR code holds: the broker's URL with the client id
// and the certificate's fingerprint, which an app can use to connect and to
// check the p12 it imported; never the password.
//
//	mqtts://liot.com:8883?client_id=DSN000001&cert_sha256=9f86d0...
func QRPayload(c Connection) string {
	q := url.Values{"client_id": {c.ClientID}, "cert_sha256": {c.CertSHA256}}
	return c.URL + "?" + q.Encode()
}

// QR renders [QRPayload] as a QR code for a terminal, two rows of modules
// per line of text.
func QR(c Connection) (string, error) {
	q, err := qrcode.New(QRPayload(c), qrcode.Medium)
	if err != nil {
		return "", fmt.Errorf("qr code: %w", err)
	}
	return q.ToSmallString(false), nil
}
