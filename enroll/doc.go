// Package enroll is zero-touch enrollment over MQTT: a device that holds a
// claim certificate (see certs.Claim) asks the broker for its own identity,
// and a device renews its certificate with its current one, both by MQTT 5
// request/response on [Topic].
//
// # Protocol
//
// The device subscribes to a response topic under [ResponsePrefix] (the
// only filters a claim may subscribe to), then publishes a JSON [Request]
// to [Topic] with that Response Topic and, if it likes, Correlation Data:
//
//	{"id": "DSN000001", "csr": "-----BEGIN CERTIFICATE REQUEST-----\n..."}
//
// The broker answers once, to that client only (the answer is written to
// its connection, never routed to other subscribers), on the response
// topic, with the correlation data echoed, a JSON [Response]:
//
//	{"status": "issued", "id": "DSN000001", "certificate": "PEM leaf + issuing CA", "ca": "PEM root", "not_after": "2027-12-02T16:00:00Z"}
//	{"status": "error", "id": "DSN000001", "code": "exists", "error": "DSN000001 is already enrolled: ..."}
//
// A request over a claim certificate enrolls a new device: the claim must
// be in the index, unrevoked and not used up; the id must be new (no
// certificate, no dynsec client). The CSR's key becomes the device's (the
// CSR's CN, if any, must be the id; nothing else it asks for is used), the
// dynsec client is created with the configured role and group, and the use
// is counted against the claim. A request over a device certificate renews
// it: the id must be that certificate's CN and the certificate its current
// one. The old certificate stays valid until the new one first logs in on
// an enrollment listener (the device demonstrably holds both key and
// certificate), or for the renewal grace at most. Requests for one id are
// decided one after the other: of two enrollments of a new id at once, the
// second is refused as "exists" (or enrolls it, if the first failed); of
// two renewals of a device at once, the second is refused as not_current.
//
// # Durability
//
// A device is answered only once its certificate's index line, its
// certificate file and its dynsec client are on disk. Concurrent new
// devices are committed together: one index append and sync, then the PKI
// folder's sync and one save of the dynsec file for all of them, so the
// syncs per enrollment fall as the requests in flight grow. When the
// dynsec file cannot be saved, the batch is undone: its clients are taken
// out of the broker's memory again and its certificates revoked with the
// uses of their claims given back (ca.Undo), and each device, answered
// "internal", enrolls with its retry (the claim counts the id once). When
// the save failed after its rename and the cleanup's save failed too, the
// file keeps those clients, with revoked certificates: the next start
// removes them, and a retry of such an id takes its client over. An
// enrollment cut by a crash after its index line keeps its use: its
// certificate is current, and the device's retry with the same key is
// answered with it and takes no second use.
//
// Every request is logged on one line (who, what, the outcome, the time it
// took) and counted ([Service] is a prometheus.Collector).
package enroll
