package certs

import (
	"errors"
	"fmt"
	"strings"

	"mqtls/topic"
)

// MaxIDLen is the longest device id, in bytes. MQTT allows longer client ids,
// but 64 bytes is the CN limit of RFC 5280 (ub-common-name).
const MaxIDLen = 64

// ErrInvalidID is wrapped by every error of [ValidateID].
var ErrInvalidID = errors.New("invalid device id")

// ValidateID checks a device id (also used for certificate names). A device
// id is the CN, the MQTT username and client id, a topic level (devices/%u/#)
// and a file name, so it follows the rules of a topic level
// ([topic.CheckLevel]: printable ASCII without spaces, '/', '+' or '#'; what
// `mqtls topic lint` calls an error in a topic is refused here too), is at
// most [MaxIDLen] bytes, has no ':' (claim identities are "claim:NAME", so
// that no device id can be one; see [ClaimName]), is not "." or ".." and
// does not start with '-'. Dots are allowed but discouraged for CAs with DNS
// name constraints (OpenSSL reads a dotted CN as a host name).
func ValidateID(id string) error {
	if len(id) > MaxIDLen {
		return fmt.Errorf("%w: it is %d bytes long, the limit is %d", ErrInvalidID, len(id), MaxIDLen)
	}
	if err := topic.CheckLevel(id); err != nil {
		if id == "" {
			return fmt.Errorf("%w: %v", ErrInvalidID, err)
		}
		return fmt.Errorf("%w %q: %v", ErrInvalidID, id, err)
	}
	switch {
	case strings.Contains(id, ":"):
		return fmt.Errorf("%w %q: it must not contain ':' (claim certificates are named claim:NAME)", ErrInvalidID, id)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q: it is not a usable file name", ErrInvalidID, id)
	case strings.HasPrefix(id, "-"):
		return fmt.Errorf("%w %q: it must not start with '-'", ErrInvalidID, id)
	}
	return nil
}
