package broker

import (
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// username is cl's username as a string without a copy: the ACL asks for
// it on every publish and every delivery, and string(bytes) would allocate
// each time. The bytes are set once, at CONNECT (by mochi, or by the auth
// hook from the certificate), and only ever replaced, never written to, so
// the string stays what it was when it was taken.
func username(cl *mqtt.Client) string {
	u := cl.Properties.Username
	return unsafe.String(unsafe.SliceData(u), len(u))
}
