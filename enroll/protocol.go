package enroll

// Topic is the request topic; ResponsePrefix starts the response topics.
const (
	Topic          = "$CONTROL/mqtls/enroll/v1"
	ResponsePrefix = Topic + "/response/"
)

// MaxRequest bounds a request payload: a CSR with an RSA-4096 key is under
// 4 KiB.
const MaxRequest = 16 << 10

// Request is what a device publishes on [Topic].
type Request struct {
	// ID is the device id: the CN, MQTT username and client id to be.
	ID string `json:"id"`
	// CSR is the PEM certificate request for the device's own key.
	CSR string `json:"csr"`
}

// The statuses of a [Response].
const (
	StatusIssued  = "issued"
	StatusRenewed = "renewed"
	StatusError   = "error"
)

// The codes of an error [Response].
const (
	CodeTooLarge   = "too_large"   // the request is over MaxRequest
	CodeMalformed  = "malformed"   // not the JSON of a Request
	CodeBadID      = "bad_id"      // not a valid device id
	CodeBadCSR     = "bad_csr"     // unreadable, badly signed, weak key, or a CN that is not the id
	CodeExists     = "exists"      // the id is already enrolled
	CodeClaim      = "claim"       // the claim is unknown, revoked, expired or used up
	CodeNotYours   = "not_yours"   // a renewal for another id than the certificate's
	CodeNotCurrent = "not_current" // a renewal from a certificate that is not the current one
	CodeRefused    = "refused"     // the certificate is neither a claim nor a device's
	CodeInternal   = "internal"    // the broker could not sign or save: try again later
)

// Response is the broker's answer.
type Response struct {
	Status string `json:"status"`
	ID     string `json:"id,omitempty"`
	// Certificate is the device certificate then the issuing CA, PEM.
	Certificate string `json:"certificate,omitempty"`
	// CA is the root certificate, PEM: the device's cafile for the broker.
	CA string `json:"ca,omitempty"`
	// NotAfter is the certificate's expiry, RFC 3339.
	NotAfter string `json:"not_after,omitempty"`
	// Code and Error say why a request was refused (Status "error").
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}
