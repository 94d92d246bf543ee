package broker

import (
	"crypto/x509"
	"errors"
	"fmt"
	"strings"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus"

	"mqtls/certs"
	"mqtls/dynsec"
	"mqtls/topic"
)

// EnrollTopic is the enrollment request topic (package enroll's Topic);
// responses go to topics under EnrollTopic + "/response/".
const (
	EnrollTopic          = "$CONTROL/mqtls/enroll/v1"
	enrollResponsePrefix = EnrollTopic + "/response/"
)

// Enroller answers enrollment requests on the listeners with enrollment
// true (package enroll's Service). The broker decides who may speak to it:
// on those listeners a claim certificate (certs.ClaimName) logs in as
// "claim:NAME" when CheckClaim accepts it, and may then publish to
// EnrollTopic and subscribe under its response prefix, nothing else; a
// device certificate may also publish to EnrollTopic (a renewal).
type Enroller interface {
	// CheckClaim decides the login of a verified claim certificate.
	CheckClaim(leaf *x509.Certificate) error
	// Connected is told of each device certificate login; it reports
	// whether it revoked a certificate (the one a renewal replaced), so
	// that the broker reloads its CRLs before the login completes.
	Connected(leaf *x509.Certificate) (revoked bool)
	// Enroll answers one request; leaf is the requester's verified
	// certificate, who names the client for the log.
	Enroll(leaf *x509.Certificate, who string, payload []byte) []byte
}

// SetEnroller sets the enrollment service; call it before Start. A broker
// with an enrollment listener does not start without one.
func (b *Broker) SetEnroller(e Enroller) { b.enroller = e }

// collectors are the metrics of the enrollment service, if it has any.
func (b *Broker) collectors() []prometheus.Collector {
	if c, ok := b.enroller.(prometheus.Collector); ok {
		return []prometheus.Collector{c}
	}
	return nil
}

// DynamicSecurity returns the dynamic security store, nil without the
// plugin.
func (b *Broker) DynamicSecurity() *dynsec.Store {
	if b.dynsec == nil {
		return nil
	}
	return b.dynsec.store
}

// checkEnrollment refuses an enrollment listener that dynamic security
// does not govern: new devices become its clients.
func (b *Broker) checkEnrollment() error {
	for _, ls := range b.order {
		if !ls.conf.Enrollment {
			continue
		}
		if b.dynsec == nil || ls.auth != dynsec.Authorizer(b.dynsec.store) {
			return fmt.Errorf("listener %d has enrollment true but the dynamic security plugin does not govern it: enrolled devices become its clients", ls.conf.Port)
		}
	}
	return nil
}

func (b *Broker) startEnrollment() error {
	for _, ls := range b.order {
		if ls.conf.Enrollment && b.enroller == nil {
			return fmt.Errorf("listener %d has enrollment true but no enrollment service is set (enroll_pki)", ls.conf.Port)
		}
	}
	return nil
}

// leafOf is the verified client certificate of a connection, or nil.
func leafOf(conn any) *x509.Certificate {
	lc, ok := conn.(interface{ Leaf() *x509.Certificate })
	if !ok {
		return nil
	}
	return lc.Leaf()
}

// enrollLogin handles a certificate login on an enrollment listener: a
// claim gets the username "claim:NAME" (claim true) once the enrollment
// service accepts it; a device certificate keeps id and idErr, and its
// login is reported to the service.
func (b *Broker) enrollLogin(cl *mqtt.Client, pk packets.Packet, id string, idErr error) (string, bool, error) {
	leaf := leafOf(cl.Net.Conn)
	name, isClaim, err := certs.ClaimName(leaf)
	if !isClaim {
		if idErr == nil && leaf != nil && b.enroller.Connected(leaf) {
			for _, ls := range b.order {
				if ls.crl != nil {
					b.reloadCRL(ls, false)
				}
			}
		}
		return id, false, idErr
	}
	switch {
	case err != nil:
		return "", true, fmt.Errorf("%w: claim certificate: %v", certs.ErrIdentity, err)
	case pk.Connect.WillFlag:
		return "", true, fmt.Errorf("claim %s: a claim may not set a will", name)
	}
	if err := b.enroller.CheckClaim(leaf); err != nil {
		return "", true, fmt.Errorf("claim certificate refused: %v", err)
	}
	return certs.ClaimCNPrefix + name, true, nil
}

// enrollAllow is the ACL of the enrollment topics on an enrollment
// listener. Anyone may publish a request and subscribe to, or receive,
// response topics (answers are written to the requester only, never
// routed); nobody may publish under the request topic. A claim may do
// nothing else: decided is true for every question about it.
func enrollAllow(user, t string, a dynsec.Access) (ok, decided bool) {
	claim := strings.HasPrefix(user, certs.ClaimCNPrefix)
	switch a {
	case dynsec.PublishSend:
		if t == EnrollTopic {
			return true, true
		}
		if strings.HasPrefix(t, EnrollTopic+"/") {
			return false, true
		}
	case dynsec.Subscribe, dynsec.PublishReceive:
		if strings.HasPrefix(t, enrollResponsePrefix) {
			return true, true
		}
	case dynsec.Unsubscribe:
		if claim {
			return true, true
		}
	}
	return false, claim
}

var errEnrollV3 = errors.New("enrollment needs MQTT 5 (a response topic)")

// enroll answers a request published on EnrollTopic: the answer goes to
// the requester alone, on its response topic, with its correlation data.
func (b *Broker) enroll(cl *mqtt.Client, pk packets.Packet) {
	who := fmt.Sprintf("%s from %s", cl.ID, cl.Net.Remote)
	rt := pk.Properties.ResponseTopic
	var err error
	switch {
	case cl.Properties.ProtocolVersion < 5:
		err = errEnrollV3
	case rt == "":
		err = errors.New("the request has no response topic")
	case topic.ValidName(rt) != nil:
		err = fmt.Errorf("response topic %q is not a valid topic name", rt)
	}
	if err != nil {
		b.log.Warn(fmt.Sprintf("enroll: request from %s dropped: %v.", who, err))
		return
	}
	resp := b.enroller.Enroll(leafOf(cl.Net.Conn), who, pk.Payload)
	out := packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Publish},
		TopicName:   rt,
		Payload:     resp,
		Properties: packets.Properties{
			CorrelationData:   pk.Properties.CorrelationData,
			PayloadFormat:     1,
			PayloadFormatFlag: true,
			ContentType:       "application/json",
		},
	}
	if err := cl.WritePacket(out); err != nil {
		b.log.Warn(fmt.Sprintf("enroll: answer to %s: %v.", who, err))
	}
}
