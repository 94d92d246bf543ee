package broker

import (
	"errors"
	"fmt"
	"net"
	"sync"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
)

// unansweredHook ends the sessions that mochi makes and then leaves behind.
// mochi adds a client to its list before it writes the CONNACK, and when
// that write fails (a v5 client whose Maximum Packet Size is smaller than
// the CONNACK, a socket reset meanwhile) or the resend of the session's
// messages fails, it returns from the connection without the end it gives
// every other one: no OnDisconnect, and a clean session stays in its list
// until persistent_client_expiration, by default for ever. Each such
// connection cost about 11 KiB, so distinct client ids grew the broker
// without bound.
//
// The hook notes a connection from OnSessionEstablish (just before mochi
// adds the client) to OnSessionEstablished (after the CONNACK and the
// resend); settle, run by the listener once mochi has returned, finishes a
// connection still noted as mochi finishes one that ends normally: its
// OnDisconnect hooks, and, for a session that ends with its connection,
// its in-flight messages, subscriptions and place in the client list.
// Mosquitto likewise closes such a connection ("disconnected due to
// oversize packet") and forgets its clean session.
type unansweredHook struct {
	mqtt.HookBase
	b       *Broker
	pending sync.Map // net.Conn -> *mqtt.Client
}

var _ mqtt.Hook = (*unansweredHook)(nil)

func (h *unansweredHook) ID() string { return "mqtls-unanswered" }

var unansweredSpec = hookSpec{events: hookset.Of(mqtt.OnSessionEstablish, mqtt.OnSessionEstablished)}

func (h *unansweredHook) Provides(b byte) bool { return unansweredSpec.events.Has(b) }

func (h *unansweredHook) OnSessionEstablish(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Conn != nil {
		h.pending.Store(cl.Net.Conn, cl)
	}
}

func (h *unansweredHook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	if cl.Net.Conn != nil {
		h.pending.Delete(cl.Net.Conn)
	}
}

// settle finishes the session of the connection c, which mochi has just
// returned from with err, if mochi left it unfinished (see unansweredHook),
// and logs it; it reports whether it did.
func (h *unansweredHook) settle(c net.Conn, err error) bool {
	v, ok := h.pending.LoadAndDelete(c)
	if !ok {
		return false
	}
	cl := v.(*mqtt.Client)
	s := h.b.server
	expire := (cl.Properties.ProtocolVersion == 5 && cl.Properties.Props.SessionExpiryInterval == 0) ||
		(cl.Properties.ProtocolVersion < 5 && cl.Properties.Clean)
	for _, hk := range h.b.hooks {
		if hk.Provides(mqtt.OnDisconnect) {
			hk.OnDisconnect(cl, err, expire)
		}
	}
	if expire && !cl.IsTakenOver() {
		cl.ClearInflights()
		s.UnsubscribeClient(cl)
		if cur, ok := s.Clients.Get(cl.ID); ok && cur == cl {
			s.Clients.Delete(cl.ID)
		}
	}
	if errors.Is(err, packets.ErrPacketTooLarge) {
		h.b.log.Info(fmt.Sprintf("Client %s disconnected due to oversize packet.", cl.ID))
	} else {
		h.b.log.Info(fmt.Sprintf("Client %s disconnected before its session began: %v.", cl.ID, err))
	}
	return true
}
