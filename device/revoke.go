package device

// Cutting a device off, and renewing its certificate.

import (
	"fmt"

	"mqtls/ca"
	"mqtls/certs"
)

// Revoked says what Revoke did.
type Revoked struct {
	ID     string
	Serial string
	// AlreadyRevoked: the certificate was revoked before (a re-run), and
	// crl.pem listed it.
	AlreadyRevoked bool
	// Completed: a run cut short had left the revocation half done (crl.pem
	// or the index lagging); it is complete now.
	Completed bool
	// Repair is what the revocation completed of runs cut short, this
	// device or others (see ca.Repair).
	Repair ca.Repair
	// ClientDisabled: the dynamic security client was disabled now (a live
	// broker disconnects its sessions at once).
	ClientDisabled bool
	// NoClient: the device had no dynamic security client.
	NoClient bool
}

// Revoke cuts a device off in one step: its certificate is revoked and
// crl.pem regenerated (a broker reloading it refuses the certificate), then
// its dynamic security client is disabled, which makes a live broker
// disconnect the device at once. Run again after a crash, it finishes
// what is missing: the revocation always goes through ca.CA.Revoke, which
// makes crl.pem and the index agree also when the certificate was revoked
// before.
func (o *Onboarder) Revoke(id string, reason ca.Reason) (Revoked, error) {
	out := Revoked{ID: id}
	if err := certs.ValidateID(id); err != nil {
		return out, err
	}
	e, ok, err := o.CA.Lookup(id)
	if err != nil {
		return out, err
	}
	if !ok || e.Name != id {
		return out, fmt.Errorf("no device %s: %w (see mqtls device list)", id, ca.ErrNotFound)
	}
	if e.Kind != certs.Client {
		return out, fmt.Errorf("%s is a %s certificate, not a device: use mqtls cert revoke", id, e.Kind)
	}
	out.Serial = e.Serial
	rev, err := o.CA.Revoke(e.Serial, reason)
	out.Repair = rev.Repair
	if err != nil {
		return out, fmt.Errorf("revoke certificate of %s: %w", id, err)
	}
	out.AlreadyRevoked, out.Completed = rev.Already && !rev.Completed, rev.Completed
	cl, has, err := getClient(o.Target, id)
	if err != nil {
		return out, fmt.Errorf("certificate revoked, but reading the dynamic security client failed (run this again): %w", err)
	}
	switch {
	case !has:
		out.NoClient = true
	case !cl.Disabled:
		if _, err := call(o.Target, "disableClient", id); err != nil {
			return out, fmt.Errorf("certificate revoked, but disabling the dynamic security client failed (run this again): %w", err)
		}
		out.ClientDisabled = true
	}
	if err := o.Target.Flush(); err != nil {
		return out, err
	}
	return out, nil
}

// Renew gives a device a new key and certificate and rewrites its p12 with
// them: with the password of its .p12.pass file and in its old form unless
// ch says otherwise (see ca.CA.RenewP12; o.Modern asks for the modern form
// too). The old certificate is revoked as superseded, or with ro.Grace stays
// valid until the grace ends (see ca.CA.Renew). Its dynamic security client
// stays as it is: the name does not change.
func (o *Onboarder) Renew(id string, ro ca.RenewOptions, ch ca.P12Choice) (Result, error) {
	res := Result{ID: id}
	if err := certs.ValidateID(id); err != nil {
		return res, err
	}
	e, ok, err := o.CA.Lookup(id)
	if err != nil {
		return res, err
	}
	if !ok || e.Name != id {
		return res, fmt.Errorf("no device %s: %w (add it with mqtls device add %s)", id, ca.ErrNotFound, id)
	}
	if e.Kind != certs.Client {
		return res, fmt.Errorf("%s is a %s certificate, not a device: use mqtls cert renew", id, e.Kind)
	}
	if e.Revoked {
		return res, fmt.Errorf("device %s is revoked: a revoked device is not renewed", id)
	}
	ch.Modern = ch.Modern || o.Modern
	po, _, err := o.CA.RenewP12(id, ch)
	if err != nil {
		return res, err
	}
	ren, err := o.CA.Renew(id, ro)
	if err != nil {
		return res, fmt.Errorf("renew %s: %w", id, err)
	}
	iss := ren.Issued
	res.Repair = ren.Repair
	p, err := o.CA.WriteP12(iss, po)
	if err != nil {
		return res, fmt.Errorf("renewed %s but writing its p12 failed (run mqtls p12 %s): %w", id, id, err)
	}
	res.Outcome = Added
	res.Serial = certs.SerialHex(iss.Cert)
	res.OldSerial, res.GraceUntil = ren.Old.Serial, ren.Old.GraceUntil
	res.P12, res.P12Pass, res.P12Password, res.P12Modern = p.Path, p.PasswordPath, p.Password, po.Modern
	if o.Target == nil {
		return res, nil
	}
	if _, has, err := getClient(o.Target, id); err == nil && !has {
		res.Note = "the device has no dynamic security client: it cannot connect (mqtls device add " + id + " completes it)"
	}
	return res, nil
}
