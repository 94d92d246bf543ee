package certs

import (
	"errors"
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxIDLen is the longest device id, in bytes. MQTT allows longer client ids,
// but 64 bytes is the CN limit of RFC 5280 (ub-common-name).
const MaxIDLen = 64

// ErrInvalidID is wrapped by every error of [ValidateID].
var ErrInvalidID = errors.New("invalid device id")

// ValidateID checks a device id (also used for certificate names): not empty,
// valid UTF-8, at most [MaxIDLen] bytes, and free of '/', '+', '#' (MQTT topic
// separators and wildcards, which would break per-device ACL patterns such as
// devices/%u/#), ':' (claim identities are "claim:NAME", so that no device id
// can be one; see [ClaimName]) and control characters. Dots are allowed but discouraged for
// CAs with DNS name constraints (OpenSSL reads a dotted CN as a host name).
func ValidateID(id string) error {
	switch {
	case id == "":
		return fmt.Errorf("%w: it is empty", ErrInvalidID)
	case !utf8.ValidString(id):
		return fmt.Errorf("%w %q: it is not valid UTF-8", ErrInvalidID, id)
	case len(id) > MaxIDLen:
		return fmt.Errorf("%w: it is %d bytes long, the limit is %d", ErrInvalidID, len(id), MaxIDLen)
	case strings.ContainsAny(id, "/+#"):
		return fmt.Errorf("%w %q: it must not contain '/', '+' or '#'", ErrInvalidID, id)
	case strings.Contains(id, ":"):
		return fmt.Errorf("%w %q: it must not contain ':' (claim certificates are named claim:NAME)", ErrInvalidID, id)
	case strings.IndexFunc(id, unicode.IsControl) >= 0:
		return fmt.Errorf("%w %q: it must not contain control characters", ErrInvalidID, id)
	case id == "." || id == "..":
		return fmt.Errorf("%w %q: it is not a usable file name", ErrInvalidID, id)
	case strings.HasPrefix(id, "-"):
		return fmt.Errorf("%w %q: it must not start with '-'", ErrInvalidID, id)
	}
	return nil
}
