// Package dynsec is Mosquitto 2.0's Dynamic Security model: clients, groups
// and roles, the dynamic-security.json file, the ACL algorithm and the
// $CONTROL/dynamic-security/v1 API.
//
// # The file
//
// [Load] reads dynamic-security.json as Mosquitto 2.0's plugin does (keys in
// any case, wrong-typed values ignored, unknown references dropped) and
// every change is saved at once through "<file>.new" and a rename, mode
// 0600, in the plugin's layout: key order defaultACLAccess, clients, groups,
// anonymousGroup, roles; tab indent; textname/textdescription, clientid,
// disabled and priority -1 omitted when unset. Group membership lives in
// groups[].clients. [Init] writes what `mosquitto_ctrl dynsec init` writes.
// Passwords are PBKDF2-HMAC-SHA512 with a 12-byte salt and a 64-byte hash;
// stored iteration counts are honoured, new passwords use 101
// ([DefaultIterations]) unless [Store.SetIterations] says otherwise.
//
// # Authorization
//
// [Store] implements [Authorizer]. [Store.Allow] follows the plugin's
// acl_check: for a known client, its roles in priority order (highest first,
// ties by name), then its groups in priority order and each group's roles;
// for an anonymous client, the roles of the anonymous group. Within a role
// the ACLs of the asked type are tried by priority, highest first; for
// subscribe and unsubscribe the literal ACLs of a role come before its
// pattern ACLs. The first matching ACL decides. When none matches, the
// default access applies, except that a topic starting with $CONTROL is
// never allowed by default. An unknown username is always denied.
//
// Beyond Mosquitto 2.0, an ACL level that is exactly "%u" stands for the
// username (the certificate CN for certificate logins) and "%c" for the
// client id, so one role with "devices/%u/#" confines every device to its
// own subtree. When the value is empty or contains '/', '+' or '#', an allow
// ACL with that placeholder does not match and a deny ACL does.
//
// Decisions are cached and the cache is emptied by every change, since the
// broker asks on every delivery to every subscriber.
//
// # Logins
//
// [Store.Login] is the plugin's password check: a disabled client and a
// client id other than the pinned one are refused with [ErrNotAuthorized];
// an unknown client, a client without a password and a wrong password with
// [ErrBadCredentials] (Mosquitto answers "not authorised" to all of them).
// [Store.Identity] closes Mosquitto's gap for certificate logins (issue
// #2999): the certificate's name must be an enabled client.
//
// # The control API
//
// [Store.Control] takes one request published on [ControlTopic] and returns
// the payload to publish on [ResponseTopic], with Mosquitto 2.0's command
// set, envelope, correlationData, data shapes and error strings (checked
// byte for byte against answers of the real Mosquitto 2.0.11). Sessions
// that Mosquitto would disconnect after a change are reported through
// [Store.OnKick]. Where Mosquitto 2.0.11 has a bug with a fix in later 2.0
// releases, the later behaviour is kept: deleting the anonymous group is
// refused, and modifyRole disconnects the role's users.
//
// # Sharing the file
//
// A running broker holds [Lock] on its file; `mqtls dynsec -f FILE` takes
// the same lock and so refuses to edit a file a broker is serving (edit it
// through the broker instead, over MQTT).
package dynsec
