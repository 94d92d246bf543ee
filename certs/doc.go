// Package certs holds the leaf certificate profiles of mqtls and the checks
// around them: device id rules, server SANs, key generation, inspection and
// expiry.
//
// # Profiles
//
// A [Request] describes one leaf. [Server] leaves carry serverAuth only and
// every host and IP as a SAN (the first host is also the CN); they last at
// most [MaxServerDays] days, the limit Apple platforms enforce. [Client]
// leaves (devices) carry clientAuth only, CN = the device id, and last
// [DefaultClientDays] days unless told otherwise. Both get KU
// digitalSignature (plus keyEncipherment for RSA keys), a NotBefore backdated
// by a minute for clock skew, and are signed by the ca package, which fills a
// 128-bit random serial and the key identifiers.
//
// # Device ids
//
// [ValidateID] is the rule for device ids and certificate names: a device id
// is the CN, the MQTT username and client id, a topic level and a file name,
// so it must be 1 to 64 bytes of printable ASCII without spaces, '/', '+',
// '#' or ':': the rules of a topic level (topic.CheckLevel), and no ':' since
// a claim certificate ([Claim]) is named claim:NAME, which is therefore never
// a device id.
//
// # Inspection
//
// [Inspect] turns a certificate into an [Info], the shape `mqtls cert inspect
// --json` prints.
package certs
