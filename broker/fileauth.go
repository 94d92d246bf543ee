package broker

import (
	"fmt"
	"sync/atomic"

	"mqtls/dynsec"
)

// fileAuth is the password_file + acl_file pair as a [dynsec.Authorizer].
// Either file may be absent: without a password_file no password login is
// accepted (Mosquitto would let any username in); without an acl_file every
// topic is allowed, as in Mosquitto.
type fileAuth struct {
	pwPath, aclPath string
	cur             atomic.Pointer[fileAuthData]
}

type fileAuthData struct {
	pw  passwordFile // nil: no password_file
	acl *aclFile     // nil: no acl_file
}

var _ dynsec.Authorizer = (*fileAuth)(nil)

func newFileAuth(pwPath, aclPath string) (*fileAuth, error) {
	f := &fileAuth{pwPath: pwPath, aclPath: aclPath}
	if err := f.reload(); err != nil {
		return nil, err
	}
	return f, nil
}

// reload re-reads both files; on error the previous contents stay in force.
func (f *fileAuth) reload() error {
	d := &fileAuthData{}
	var err error
	if f.pwPath != "" {
		if d.pw, err = loadPasswordFile(f.pwPath); err != nil {
			return err
		}
	}
	if f.aclPath != "" {
		if d.acl, err = loadACLFile(f.aclPath); err != nil {
			return err
		}
	}
	f.cur.Store(d)
	return nil
}

func (f *fileAuth) Login(username, password, clientID string) error {
	if username == "" {
		return nil // allow_anonymous is the broker's decision
	}
	d := f.cur.Load()
	if d.pw == nil {
		return fmt.Errorf("%w: no password_file to check user %q against", dynsec.ErrBadCredentials, username)
	}
	h, ok := d.pw[username]
	if !ok {
		return fmt.Errorf("%w: unknown user %q", dynsec.ErrBadCredentials, username)
	}
	if !h.verify(password) {
		return fmt.Errorf("%w: wrong password for user %q", dynsec.ErrBadCredentials, username)
	}
	return nil
}

// Identity accepts every verified certificate: with files, the acl_file
// alone decides what the identity may do.
func (f *fileAuth) Identity(username, clientID string) error { return nil }

func (f *fileAuth) Allow(username, clientID, topic string, access dynsec.Access) bool {
	d := f.cur.Load()
	if d.acl == nil {
		return true
	}
	switch access {
	case dynsec.PublishSend:
		return d.acl.allow(username, clientID, topic, true)
	case dynsec.PublishReceive:
		return d.acl.allow(username, clientID, topic, false)
	default:
		return true // Mosquitto: subscribing is allowed, delivery is checked
	}
}
