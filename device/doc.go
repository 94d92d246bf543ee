// Package device is the onboarding workflow: it joins the CA (package ca),
// the p12 bundles and the dynamic security clients (package dynsec) into the
// steps people run for a fleet.
//
// # One operation
//
// [Onboarder.Add] makes a device's key, client certificate (CN = the id),
// p12 with its password file and its dynamic security client with a role
// (and group). The parts are made in a fixed order: the certificate's index
// line (synced), its files, the p12, and last the dynamic security client.
// A failure seen on the way is rolled back: the certificate is revoked and
// its files removed, so no usable certificate stays without its client. A
// crash (kill -9, power cut) can only leave a certificate without its client;
// the next Add or [Onboarder.Import] of that id sees it and completes it,
// re-issuing when the crash came before the certificate's files were written.
// A dynamic security client without a certificate is never made.
//
// # Targets
//
// A [Target] holds the dynamic security clients: [OpenFile] edits a
// dynamic-security.json no broker serves (it takes the file's lock and
// refuses a file a broker holds), [Dial] talks to a running broker through
// $CONTROL/dynamic-security/v1, exactly as mosquitto_ctrl does, so it works
// with Mosquitto 2 too.
//
// # Import
//
// [ParseCSV] reads id,role,group,days lines; [Onboarder.Import] checks every
// row first, then onboards the good ones on every core, skipping devices
// that are complete (a re-run changes nothing) and completing half-done ones.
//
// # Revocation
//
// [Onboarder.Revoke] revokes the certificate and regenerates crl.pem, then
// disables the dynamic security client, which makes a live broker disconnect
// the device at once.
package device
