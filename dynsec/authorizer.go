package dynsec

import "errors"

// Access is what a client asks to do with a topic. The broker asks one
// [Authorizer] about every connect, subscribe, publish, will and delivery.
type Access uint8

const (
	// PublishSend is a PUBLISH from the client, and its will at CONNECT
	// (dynsec "publishClientSend").
	PublishSend Access = iota + 1
	// PublishReceive is a delivery to the client (dynsec "publishClientReceive").
	PublishReceive
	// Subscribe is a SUBSCRIBE filter (dynsec "subscribeLiteral" and "subscribePattern").
	Subscribe
	// Unsubscribe is an UNSUBSCRIBE filter (dynsec "unsubscribeLiteral" and "unsubscribePattern").
	Unsubscribe
)

// Errors an [Authorizer] returns from Login and Identity. They name the
// reason for the broker's log; on the wire a refused password login is "not
// authorised" (v5 0x87, v3 5) either way, as Mosquitto 2.0 answers, so that a
// client cannot tell an unknown user from a wrong password.
var (
	// ErrBadCredentials: unknown user or wrong password.
	ErrBadCredentials = errors.New("bad user name or password")
	// ErrNotAuthorized: known identity that may not connect: disabled client,
	// certificate CN that is no client, client id not the pinned one.
	ErrNotAuthorized = errors.New("not authorized")
)

// Authorizer decides who may connect and what they may do. The dynamic
// security [Store] implements it, and so does the broker's password_file +
// acl_file pair. Implementations are safe for concurrent use and fast: Allow
// is called on every delivery to every subscriber.
type Authorizer interface {
	// Login checks a password login. username "" is an anonymous client.
	// Errors wrap ErrBadCredentials or ErrNotAuthorized with the reason.
	Login(username, password, clientID string) error
	// Identity checks a login whose username was set by the broker from a
	// verified client certificate (its CN or subject): the client must exist,
	// be enabled, and match a pinned client id.
	Identity(username, clientID string) error
	// Allow answers one ACL question for a connected client.
	Allow(username, clientID, topic string, access Access) bool
}
