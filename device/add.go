package device

// Adding a device: key, client certificate, p12 with its password file and a
// dynamic security client, as one operation.
//
// Order and crash rule: the certificate's index line is written (and synced)
// first, then its files, then the p12, and only then the dynamic security
// client. So a dynamic security client made by this package always has a
// current certificate, and a crash can leave only a certificate without its
// client. Add detects that on the next run and completes the device; a failure
// it sees itself (an unreachable broker, a full disk) is rolled back at once:
// the certificate is revoked (cessationOfOperation) and its files removed.

import (
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/internal/fileio"
)

// Outcome says what Add did.
type Outcome string

const (
	// Added: a new device, all of its parts made now.
	Added Outcome = "added"
	// Completed: a device left half-done by an interrupted run, finished now.
	Completed Outcome = "completed"
	// Skipped: the device was already complete; nothing changed.
	Skipped Outcome = "skipped"
)

// Spec is one device to add.
type Spec struct {
	ID    string
	Role  string
	Group string
	// Days of validity; 0 is certs.DefaultClientDays.
	Days int
	// CSR, when set, is the device's own certificate request (see
	// certs.ParseCSR): the certificate is issued for its key, and no key
	// or p12 is made.
	CSR *x509.CertificateRequest
}

// Onboarder adds, lists, revokes and renews devices of one CA and one
// dynamic security target. It is safe for concurrent use.
type Onboarder struct {
	CA     *ca.CA
	Target Target
	// Modern makes AES/PBKDF2 p12 bundles instead of the phone-safe default.
	Modern bool
	// KeyType of device keys; "" is EC P-256.
	KeyType certs.KeyType
}

// Result is what happened to one device.
type Result struct {
	ID      string
	Outcome Outcome
	Serial  string
	// Cert is issued/ID.crt, set when the device sent its own CSR.
	Cert string
	// P12 and P12Pass are the bundle and its password file (none for a
	// device that sent its own CSR).
	P12     string
	P12Pass string
	// P12Password is the bundle's password when this call wrote it (to be
	// shown only when asked); P12Modern is its form. A renewal that kept
	// the old password leaves P12Pass empty.
	P12Password string
	P12Modern   bool
	// Note explains a skip or a completion.
	Note string
	// Repair is what a renewal completed of runs cut short (see
	// ca.Repair).
	Repair ca.Repair
	// OldSerial is the certificate a renewal replaced; GraceUntil, when
	// set, is when it stops being valid (zero: revoked at once).
	OldSerial  string
	GraceUntil time.Time
}

// CheckSpec validates what can be checked without touching anything: the id,
// the days and that the role and group exist on the target.
func (o *Onboarder) CheckSpec(s Spec) error {
	if err := certs.ValidateID(s.ID); err != nil {
		return err
	}
	if s.Days < 0 {
		return fmt.Errorf("days must be positive, got %d", s.Days)
	}
	if s.Role == "" {
		return errNoRole
	}
	if _, ok, err := getRole(o.Target, s.Role); err != nil {
		return err
	} else if !ok {
		return unknownRole(s.Role)
	}
	if s.Group != "" {
		ok, err := groupExists(o.Target, s.Group)
		if err != nil {
			return err
		}
		if !ok {
			return unknownGroup(s.Group)
		}
	}
	return nil
}

var errNoRole = errors.New("no role: give one with --role or in the role column")

func unknownRole(r string) error {
	return fmt.Errorf("unknown role %q: create it first (mosquitto_ctrl dynsec createRole %s)", r, r)
}

func unknownGroup(g string) error {
	return fmt.Errorf("unknown group %q: create it first (mosquitto_ctrl dynsec createGroup %s)", g, g)
}

// Add onboards one device (see the file comment for the order and the crash
// rule). Running it again for a complete device changes nothing.
func (o *Onboarder) Add(s Spec) (Result, error) {
	if err := o.CheckSpec(s); err != nil {
		return Result{ID: s.ID}, err
	}
	return o.add(s)
}

// add is Add without CheckSpec (import checks each role once).
func (o *Onboarder) add(s Spec) (Result, error) {
	res := Result{ID: s.ID, P12: o.CA.IssuedPath(s.ID, ".p12"), P12Pass: o.CA.IssuedPath(s.ID, ".p12.pass")}
	cl, hasClient, err := getClient(o.Target, s.ID)
	if err != nil {
		return res, err
	}
	e, ok, err := o.CA.Lookup(s.ID)
	if err != nil {
		return res, err
	}
	current := ok && e.Name == s.ID && e.Current
	if hasClient && !current {
		if ok && e.Name == s.ID && e.Revoked {
			return res, fmt.Errorf("device %s was revoked and its dynamic security client is kept (disabled): delete the client first (mqtls dynsec deleteClient %s) to onboard it again", s.ID, s.ID)
		}
		return res, fmt.Errorf("a dynamic security client %s exists but has no device certificate: pick another id or delete that client", s.ID)
	}
	if current && e.Kind != certs.Client {
		return res, fmt.Errorf("%s is a %s certificate, not a device: pick another id", s.ID, e.Kind)
	}
	if s.CSR != nil {
		res.P12, res.P12Pass = "", ""
		res.Cert = o.CA.IssuedPath(s.ID, ".crt")
		if current && !o.sameKey(s.ID, e, s.CSR) {
			return res, fmt.Errorf("device %s %w for another key: revoke it first (mqtls device revoke %s)", s.ID, ca.ErrExists, s.ID)
		}
	} else if current && e.CSR {
		return res, fmt.Errorf("device %s %w from its own CSR: its key is on the device, so there is no p12 to make", s.ID, ca.ErrExists)
	}

	made := false // the certificate was issued by this call
	if current && !o.filesMatch(s.ID, e) {
		// The index line of a crashed issue, without its files: the
		// certificate cannot be used, so revoke it and issue a new one.
		if _, err := o.CA.Revoke(e.Serial, ca.CessationOfOperation); err != nil {
			return res, fmt.Errorf("revoke the unfinished certificate of %s: %w", s.ID, err)
		}
		current = false
		res.Note = "replaced a certificate whose files an interrupted run did not write"
	}
	switch {
	case !current && s.CSR != nil:
		req, err := certs.CSRRequest(s.CSR, certs.Client, s.ID, s.Days)
		if err != nil {
			return res, err
		}
		iss, err := o.CA.Issue(req)
		if err != nil {
			return res, fmt.Errorf("issue certificate: %w", err)
		}
		made = true
		res.Serial = certs.SerialHex(iss.Cert)
	case !current:
		iss, err := o.CA.IssueClient(s.ID, ca.ClientOptions{Days: s.Days, KeyType: o.KeyType})
		if err != nil {
			return res, fmt.Errorf("issue certificate: %w", err)
		}
		made = true
		res.Serial = certs.SerialHex(iss.Cert)
		if _, err := o.CA.WriteP12(iss, ca.P12Options{Modern: o.Modern}); err != nil {
			return res, o.rollback(res, fmt.Errorf("write p12: %w", err))
		}
	case s.CSR != nil:
		res.Serial = e.Serial
	default:
		res.Serial = e.Serial
		if !fileExists(res.P12) || !fileExists(res.P12Pass) {
			if _, err := o.CA.ExportP12(s.ID, ca.P12Options{Modern: o.Modern}); err != nil {
				return res, o.rollback(res, fmt.Errorf("write p12: %w", err))
			}
			res.Note = "wrote the p12 an interrupted run did not write"
		}
	}

	if hasClient {
		res.Outcome = Skipped
		if res.Note != "" {
			res.Outcome = Completed
		} else {
			res.Note = "already onboarded"
		}
		if !slices.Contains(cl.Roles, s.Role) && !groupHasRole(cl, s.Group) {
			res.Note += fmt.Sprintf(" (its client does not have role %s: change it with mqtls dynsec addClientRole)", s.Role)
		}
		return res, nil
	}
	if err := o.createClient(s); err != nil {
		return res, o.rollback(res, err)
	}
	res.Outcome = Added
	if !made {
		res.Outcome = Completed
		if res.Note == "" {
			res.Note = "created the dynamic security client an interrupted run did not create"
		}
	}
	return res, nil
}

func groupHasRole(cl ClientInfo, group string) bool {
	return group != "" && slices.Contains(cl.Groups, group)
}

// createClient makes the dynamic security client of a device: no password
// (it logs in with its certificate), its role and its group.
func (o *Onboarder) createClient(s Spec) error {
	if _, err := call(o.Target, "createClient", s.ID); err != nil {
		return fmt.Errorf("create dynamic security client: %w", err)
	}
	_, err := call(o.Target, "addClientRole", s.ID, s.Role)
	if err == nil && s.Group != "" {
		_, err = call(o.Target, "addGroupClient", s.Group, s.ID)
	}
	if err != nil {
		if _, derr := call(o.Target, "deleteClient", s.ID); derr != nil {
			return fmt.Errorf("set up dynamic security client: %w (and deleting it failed: %v)", err, derr)
		}
		return fmt.Errorf("set up dynamic security client: %w", err)
	}
	return nil
}

// rollback undoes the certificate part of a failed add: the certificate is
// revoked, so that no usable certificate is left without its client, and
// its files are removed. It returns cause, with what rollback could not do.
func (o *Onboarder) rollback(res Result, cause error) error {
	if res.Serial != "" {
		if _, err := o.CA.Revoke(res.Serial, ca.CessationOfOperation); err != nil {
			return fmt.Errorf("%w; rollback: revoke %s: %v (revoke it with mqtls device revoke %s)", cause, res.ID, err, res.ID)
		}
	}
	for _, ext := range []string{".p12", ".p12.pass", ".key", ".crt"} {
		os.Remove(o.CA.IssuedPath(res.ID, ext))
	}
	return fmt.Errorf("%w (rolled back: certificate revoked, files removed)", cause)
}

// filesMatch reports whether issued/ID.crt is the certificate of e and,
// unless it was signed from a CSR, ID.key exists.
func (o *Onboarder) filesMatch(id string, e ca.Entry) bool {
	if !e.CSR && !fileExists(o.CA.IssuedPath(id, ".key")) {
		return false
	}
	cs, err := fileio.ReadCerts(o.CA.IssuedPath(id, ".crt"))
	return err == nil && certs.SerialHex(cs[0]) == e.Serial
}

// sameKey reports whether the current certificate of id, e, was signed
// from a CSR for the key of csr: a re-run of the same add.
func (o *Onboarder) sameKey(id string, e ca.Entry, csr *x509.CertificateRequest) bool {
	if !e.CSR {
		return false
	}
	cs, err := fileio.ReadCerts(o.CA.IssuedPath(id, ".crt"))
	if err != nil || certs.SerialHex(cs[0]) != e.Serial {
		return true // unfinished: replaced below
	}
	k, ok := cs[0].PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(csr.PublicKey)
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Size() > 0
}
