// Package ca is the certificate authority on disk: a root and an issuing
// intermediate, the index of every certificate they issued, revocation and
// the CRL.
//
// # Folder
//
// [Init] makes, in one folder (0700):
//
//	root.crt     the root (10 years, pathlen 1; pathlen 0 with NoIntermediate)
//	root.key     its key, encrypted PKCS#8 (PBES2, PBKDF2-SHA256 600k, AES-256)
//	ca.crt       the issuing CA: the intermediate (5 years, pathlen 0), or the root
//	ca.key       its key, encrypted the same way (absent with NoIntermediate)
//	chain.pem    intermediate then root: a broker's cafile
//	crl.pem      the issuing CA's CRL, then the root's CRL of intermediates
//	index.jsonl  the index of issued and revoked certificates (see below)
//	index.lock   the lock file that serialises writers across processes
//	issued.lock  held shared by processes writing into issued/ (see below)
//	issued/      NAME.crt (leaf + intermediate), NAME.key, NAME.p12, NAME.p12.pass
//
// Keys, p12 and password files are 0600, everything else 0644, all written
// atomically (a temporary ".NAME.tmp-N" file, then a rename; the next
// process that opens the CA to write removes those a kill left, where no
// live process can be writing them). One password protects both CA keys. A CA made with no password
// (for throwaway dev sandboxes only) stores them as plain PKCS#8.
//
// # Using it
//
// [Load] reads a CA without its password: enough to list, look up, inspect and
// export p12 bundles of already issued certificates. [Open] also decrypts the
// keys (about 120 ms of PBKDF2 per key, so open once) and returns a [CA] that
// can issue, revoke and sign CRLs. A CA is safe for concurrent use by many
// goroutines and by many processes on the same folder:
//
//	c, err := ca.Open(dir, password)
//	iss, err := c.IssueClient("DSN000001", ca.ClientOptions{})
//	p12Path, passPath, err := c.WriteP12(iss, ca.P12Options{})
//	_, err = c.Revoke("DSN000001", ca.KeyCompromise)
//
// # Batch issuance
//
// For thousands of devices, open the CA once, call [CA.DeferSync](true), and
// issue from several goroutines (IssueClient then WriteP12 in each); call
// [CA.Sync] at the end. Index appends of concurrent goroutines are grouped;
// files are written atomically but not fsynced one by one. A re-run should
// skip names whose [CA.HasFiles] is true and [CA.Renew] current names
// without files.
//
// # The index
//
// index.jsonl is append-only JSON lines. The first line is a header naming the
// format; then each line is one event: "issue" (name, kind, serial, CN,
// validity), "revoke" (serial, reason, time), "supersede" (serial, the end
// of its renewal grace) or "undo" (serial: an enrollment undone because its
// dynsec client could not be saved; it follows the certificate's revoke
// line and gives back the use of its claim, see [CA.Undo]). Every line carries "sum", the
// first 16 hex digits of the SHA-256 of the line's JSON without it, so a
// changed or damaged line is detected. The state (which name is current, what
// is revoked) is the replay of the lines; nothing is ever rewritten, so
// issuing n certificates costs O(n), not O(n²).
//
// Writers hold an exclusive flock on index.lock while they append (and, for
// revocations, while they write the CRL), and first read whatever other
// processes appended. Appends from concurrent goroutines are grouped into one
// write and one fsync. An issue is appended (and synced) before its files are
// written, so every certificate that exists on disk is in the index and can be
// revoked; a crash in between leaves a current name without files, which
// [CA.HasFiles] tells and [CA.Renew] repairs.
//
// Corruption: a last line without its newline is a write torn by a crash (a
// kill -9 or a power cut mid-append). Its certificate files were never
// written, so the next writer cuts it off, under the lock, and readers ignore
// it. Any other bad line (bad JSON, wrong sum, an unknown event) makes every
// operation fail with [ErrCorruptIndex] naming the line: the index is never
// overwritten; restore it from a backup or fix the line by hand. So does an
// index larger than [MaxIndex], before any of it is read.
//
// # Names and renewal
//
// A name (device id or server name) has at most one current certificate. A
// second issue of a current name fails with [ErrExists], unless the
// current certificate is an issue cut before its files were written
// ([CA.Unfinished]): that one is revoked and replaced. Revoking the
// certificate frees the name. [CA.Renew] issues a new key and certificate
// under the same name with the same profile, then revokes the old one with
// reason superseded and regenerates the CRL; with [RenewOptions.Grace] the
// old one is recorded as superseded ("supersede" event, valid until the
// grace ends) instead, and the first writer that signs CRLs after that
// revokes it. Revoking a current certificate revokes those of its name still
// in their grace.
//
// # CRL
//
// crl.pem holds the issuing CA's CRL (what Mosquitto needs for the leaf: a
// CRL from the leaf's issuer is mandatory once crlfile is set) followed by a
// root-signed CRL covering the intermediate. Both are valid for [CRLDays]
// days; every revocation regenerates them, and [CA.GenerateCRL] re-signs them
// (from cron, before nextUpdate: a stale CRL makes Mosquitto refuse every
// client).
//
// # Crashes
//
// A revocation writes crl.pem first and its index line second, so at every
// instant a certificate is either valid in both or listed in crl.pem; a
// renewal appends the new certificate's line, then writes crl.pem listing
// the old one, then the old one's revoke line. Revoke, Renew and
// GenerateCRL first compare crl.pem with the index and complete what a cut
// run left ([Repair]); [CA.CheckCRL] makes the same comparison without keys
// for `mqtls ca show`. A CRL never drops a revocation crl.pem listed. ca
// init writes index.jsonl first and root.crt last; a re-run after a cut
// init starts over. repair.go says more.
package ca
