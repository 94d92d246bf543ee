package enroll

import (
	"bytes"
	"context"
	"crypto"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"mqtls/certs"
	"mqtls/client"
)

// DefaultTimeout bounds a request from connecting to the answer.
const DefaultTimeout = 30 * time.Second

// Issued is what a device got from the broker: its new key and certificate.
type Issued struct {
	Response
	// Key is the key made for the request; KeyPEM is it in PKCS#8.
	Key    crypto.Signer
	KeyPEM []byte
	// Leaf is the new certificate.
	Leaf *x509.Certificate
}

// RefusedError is the broker's refusal of a request.
type RefusedError struct{ Code, Message string }

func (e *RefusedError) Error() string {
	return fmt.Sprintf("the broker refused the enrollment (%s): %s", e.Code, e.Message)
}

// Ask is the device side of the protocol: it makes a key of type kt (""
// is EC P-256; it never leaves this process), connects with o (TLS with
// the claim certificate, or the device's current one to renew), sends a
// CSR for id and waits for the answer. The key is returned, not written.
func Ask(ctx context.Context, o client.Options, id string, kt certs.KeyType) (*Issued, error) {
	if err := certs.ValidateID(id); err != nil {
		return nil, err
	}
	key, err := certs.NewKey(kt)
	if err != nil {
		return nil, err
	}
	return AskWithKey(ctx, o, id, key)
}

// AskWithKey is [Ask] with the device's own key. A device that asks again
// for its first certificate (its answer was lost, or it restarted before
// writing it) asks with the key of the first request: the broker then
// answers with the certificate it issued for that key.
func AskWithKey(ctx context.Context, o client.Options, id string, key crypto.Signer) (*Issued, error) {
	if err := certs.ValidateID(id); err != nil {
		return nil, err
	}
	if o.TLS == nil {
		return nil, errors.New("enrollment is over TLS with a client certificate: give --cafile and the certificate")
	}
	o.Version = client.V5
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultTimeout)
		defer cancel()
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: id}}, key)
	if err != nil {
		return nil, fmt.Errorf("make the CSR: %w", err)
	}
	payload, _ := json.Marshal(Request{ID: id, CSR: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))})
	conn, err := client.Connect(ctx, o)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	corr := make([]byte, 16)
	_, _ = rand.Read(corr)
	respTopic := ResponsePrefix + id + "/" + hex.EncodeToString(corr[:6])
	answers := make(chan client.Message, 4)
	codes, err := conn.Subscribe(ctx, []client.Subscription{{Filter: respTopic}}, func(m client.Message) {
		if bytes.Equal(m.Props.CorrelationData, corr) {
			select {
			case answers <- m:
			default:
			}
		}
	})
	if err != nil {
		return nil, err
	}
	if len(codes) != 1 || codes[0] >= 0x80 {
		return nil, fmt.Errorf("the broker refused the subscription to the response topic (code 0x%02x): is enrollment true on this listener?", codes)
	}
	err = conn.Publish(ctx, client.Message{Topic: Topic, Payload: payload, QoS: 1,
		Props: client.Properties{ResponseTopic: respTopic, CorrelationData: corr, ContentType: "application/json"}})
	if err != nil {
		return nil, err
	}
	var m client.Message
	select {
	case m = <-answers:
	case <-conn.Done():
		return nil, errors.New("the broker closed the connection before it answered")
	case <-ctx.Done():
		return nil, fmt.Errorf("no answer from the broker: is enrollment true on this listener? (%w)", ctx.Err())
	}
	var resp Response
	if err := json.Unmarshal(m.Payload, &resp); err != nil {
		return nil, fmt.Errorf("the broker's answer is not JSON: %v", err)
	}
	if resp.Status == StatusError {
		return nil, &RefusedError{Code: resp.Code, Message: resp.Error}
	}
	leaf, err := checkAnswer(resp, id, key)
	if err != nil {
		return nil, err
	}
	keyPEM, err := certs.KeyPEM(key)
	if err != nil {
		return nil, err
	}
	return &Issued{Response: resp, Key: key, KeyPEM: keyPEM, Leaf: leaf}, nil
}

// checkAnswer checks that the certificate answered is for id and key.
func checkAnswer(resp Response, id string, key crypto.Signer) (*x509.Certificate, error) {
	blk, _ := pem.Decode([]byte(resp.Certificate))
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, errors.New("the broker's answer holds no certificate")
	}
	leaf, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("the broker's certificate: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := key.Public().(equaler); !ok || !pk.Equal(leaf.PublicKey) {
		return nil, errors.New("the broker's certificate is not for the key of this request")
	}
	if leaf.Subject.CommonName != id || resp.ID != id {
		return nil, fmt.Errorf("the broker's certificate is for %q, not %q", leaf.Subject.CommonName, id)
	}
	return leaf, nil
}
