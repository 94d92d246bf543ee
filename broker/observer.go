package broker

import (
	"time"

	"mqtls/dynsec"
)

// Observer receives events that metrics count. Set it with
// [Broker.SetObserver] before Start; nil functions are skipped.
type Observer struct {
	// HandshakeFailure is called for each failed TLS handshake on a TLS or
	// wss listener. On a TLS listener, a connection that closes or times
	// out before sending a byte (a port probe) is not a failed handshake.
	HandshakeFailure func()
	// ACLDenial is called for each refusal the wire does not show: a QoS 0
	// publish (v3 and v5), a v3 publish (acknowledged and dropped), a
	// delivery, and each refused UNSUBSCRIBE filter (v3 UNSUBACK has no
	// codes; the v5 UNSUBACK 0x87 is reported here too, not left to the
	// wire). v5 QoS 1/2 publishes and SUBSCRIBEs show 0x87 on the wire and
	// are not reported.
	ACLDenial func(access dynsec.Access)
}

// SetObserver sets the observer; call it before Start.
func (b *Broker) SetObserver(o Observer) { b.obs = o }

func (b *Broker) noteDenial(a dynsec.Access) {
	if b.obs.ACLDenial != nil {
		b.obs.ACLDenial(a)
	}
}

// CRLUpdated is the oldest thisUpdate of the CRLs in force (zero without a
// crlfile): the age metric tells when a CRL refresh is overdue.
func (b *Broker) CRLUpdated() time.Time {
	var oldest time.Time
	for _, ls := range b.order {
		if ls.crl == nil {
			continue
		}
		set := ls.crl.cur.Load()
		if set == nil {
			continue
		}
		for _, crl := range set.byIssuer {
			if oldest.IsZero() || crl.ThisUpdate.Before(oldest) {
				oldest = crl.ThisUpdate
			}
		}
	}
	return oldest
}
