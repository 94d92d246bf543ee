package broker

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
	"mqtls/internal/hookset"
	"mqtls/topic"
)

// authHook is the only hook that answers OnConnectAuthenticate and
// OnACLCheck (mochi ORs them across hooks). It decides every login in
// OnConnect, where it can still send the CONNACK code it wants, and closes
// mochi's holes there: certificate identities, the session-takeover guard
// and the will ACL.
//
// The ACL questions are answered where the packet says what they are:
// SUBSCRIBE filters in OnSubscribe (subscribe.go), UNSUBSCRIBE filters in
// OnUnsubscribe (unsubscribe.go), a client's PUBLISH in allowPublish (QoS 0
// from OnPublish, QoS 1 and 2 from inboundHook), and deliveries in
// OnACLCheck's read side.
type authHook struct {
	mqtt.HookBase
	b *Broker

	// unsubDenied holds the refused filters of a v5 UNSUBSCRIBE until its
	// UNSUBACK is encoded (see unsubscribe.go).
	unsubDenied  sync.Map // unsubKey -> []int
	unsubPending atomic.Int64
}

var _ mqtt.Hook = (*authHook)(nil)

func (h *authHook) ID() string { return "mqtls-auth" }

// (OnPacketRead and OnPacketEncode: packetHooks calls them, see PacketTypes;
// OnPublish: publishHooks calls judgePublish.)
var authSpec = hookSpec{
	events: hookset.Of(
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribe,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect,
	),
	enc: typesOf(packets.Unsuback),
}

func (h *authHook) Provides(b byte) bool { return authSpec.events.Has(b) }

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on:
// packetHooks calls them for no other (and not at all for 0).
func (h *authHook) PacketTypes(event byte) uint16 { return authSpec.packetTypes(event) }

func (h *authHook) Init(config any) error {
	if config != nil {
		return mqtt.ErrInvalidConfigType
	}
	return nil
}

// refusal is a login refused with a CONNACK code and a reason for the log.
type refusal struct {
	code   packets.Code
	reason string
}

func (r *refusal) Error() string { return r.reason }

func refuse(code packets.Code, format string, a ...any) *refusal {
	return &refusal{code: code, reason: fmt.Sprintf(format, a...)}
}

// authCode maps an Authorizer error onto a CONNACK code.
func authCode(err error) packets.Code {
	if errors.Is(err, dynsec.ErrNotAuthorized) {
		return packets.ErrNotAuthorized
	}
	return packets.ErrBadUsernameOrPassword
}

// OnConnect decides the login. A refusal sends its CONNACK (v5 reason code,
// v3 return code) and closes the connection.
func (h *authHook) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	ls := h.b.lis[cl.Net.Listener]
	r := h.login(ls, cl, pk)
	if r != nil {
		h.b.log.Warn(fmt.Sprintf("Client %s from %s refused (%s): %s.", cl.ID, cl.Net.Remote, r.code.Reason, r.reason))
		h.sendRefusal(cl, r.code)
		return r
	}
	return nil
}

// v3Codes are the MQTT 3.1.1 CONNACK return codes of our refusals, as
// Mosquitto sends them (mochi maps "bad username or password" to 5).
var v3Codes = map[packets.Code]byte{
	packets.ErrBadUsernameOrPassword:    4,
	packets.ErrNotAuthorized:            5,
	packets.ErrClientIdentifierNotValid: 2,
	packets.ErrServerUnavailable:        3,
}

// sendRefusal answers a refused CONNECT. A v3 client whose refusal has no
// 3.1.1 return code, and a protocol error, get no CONNACK, as from Mosquitto.
func (h *authHook) sendRefusal(cl *mqtt.Client, code packets.Code) {
	if code == packets.ErrProtocolViolation {
		return // Mosquitto closes without a CONNACK, for v5 too
	}
	if cl.Properties.ProtocolVersion >= 5 {
		_ = h.b.server.SendConnack(cl, code, false, nil)
		return
	}
	rc, ok := v3Codes[code]
	if !ok {
		return
	}
	_ = cl.WritePacket(packets.Packet{
		FixedHeader: packets.FixedHeader{Type: packets.Connack},
		ReasonCode:  rc,
	})
}

func (h *authHook) login(ls *listenerState, cl *mqtt.Client, pk packets.Packet) *refusal {
	if ls == nil {
		return refuse(packets.ErrServerUnavailable, "unknown listener %q", cl.Net.Listener)
	}
	if r := connectRules(cl, pk); r != nil {
		return r
	}
	h.keepalive(cl)
	username := string(pk.Connect.Username)
	if ls.identity {
		id, err := identity(cl.Net.Conn, ls.conf.UseSubjectAsUsername && !ls.conf.UseIdentityAsUsername)
		claim := false
		if ls.conf.Enrollment {
			id, claim, err = h.b.enrollLogin(cl, pk, id, err)
		}
		if err != nil {
			return refuse(packets.ErrBadUsernameOrPassword, "%v", err)
		}
		username = id
		// The CONNECT username and password are ignored, as in Mosquitto.
		cl.Properties.Username = []byte(id)
		if ls.auth != nil && !claim {
			if err := ls.auth.Identity(id, cl.ID); err != nil {
				return refuse(authCode(err), "certificate identity %q: %v", id, err)
			}
		}
	} else {
		switch {
		case username == "" && !ls.anon:
			return refuse(packets.ErrNotAuthorized, "anonymous clients are not allowed (allow_anonymous false)")
		case ls.auth == nil && ls.anon:
			// Mosquitto with allow_anonymous true and no password file
			// admits any username: there is nothing to check it against.
		case ls.auth == nil:
			return refuse(packets.ErrNotAuthorized, "user %q: no password_file or dynamic security is configured to check passwords", username)
		default:
			// Mosquitto 2.0 answers "not authorised" to every refused
			// password login (unknown user, wrong password, disabled client).
			if err := ls.auth.Login(username, string(pk.Connect.Password), cl.ID); err != nil {
				return refuse(packets.ErrNotAuthorized, "%v", err)
			}
		}
	}
	// A client id may not take over a session that belongs to another user:
	// mochi would hand it the subscriptions and queued messages.
	if old, ok := h.b.server.Clients.Get(cl.ID); ok && !old.Net.Inline && string(old.Properties.Username) != username {
		return refuse(packets.ErrNotAuthorized, "client id %q belongs to a session of another user", cl.ID)
	}
	if cl.ID == "inline" {
		return refuse(packets.ErrClientIdentifierNotValid, "client id %q is reserved", cl.ID)
	}
	// mochi publishes wills without an ACL check: check the will now.
	if pk.Connect.WillFlag {
		wt := pk.Connect.WillTopic
		if (strings.HasPrefix(wt, "$") && !bridgeStateTopic(wt)) || (ls.auth != nil && !ls.auth.Allow(username, cl.ID, wt, dynsec.PublishSend)) {
			return refuse(packets.ErrNotAuthorized, "will topic %q is not allowed for user %q", wt, username)
		}
	}
	return nil
}

// keepalive applies max_keepalive as Mosquitto 2.0.11 does: v5 clients
// asking for more (or for none) are told the server's value in CONNACK; v3
// clients cannot be told and are admitted with the keepalive they asked for.
func (h *authHook) keepalive(cl *mqtt.Client) {
	max := h.b.cfg.MaxKeepalive
	if max == 0 || max >= 65535 || cl.Properties.ProtocolVersion < 5 {
		return
	}
	if ka := int(cl.State.Keepalive); ka != 0 && ka <= max {
		return
	}
	cl.State.Keepalive = uint16(max)
	cl.State.ServerKeepalive = true
}

// connectRules refuses the CONNECTs that Mosquitto refuses and mochi
// accepts.
func connectRules(cl *mqtt.Client, pk packets.Packet) *refusal {
	v := cl.Properties.ProtocolVersion
	switch {
	case v == 3 && pk.Connect.ClientIdentifier == "":
		// MQTT 3.1 has no assigned client identifiers.
		return refuse(packets.ErrClientIdentifierNotValid, "MQTT 3.1 clients must send a client id")
	case v == 4 && pk.Connect.PasswordFlag && !pk.Connect.UsernameFlag:
		// [MQTT-3.1.2-22]: no CONNACK code for it, so the connection closes.
		return refuse(packets.ErrProtocolViolation, "password without a username")
	case v == 5 && pk.Properties.AuthenticationMethod != "":
		// mochi would accept the CONNECT and ignore the method.
		return refuse(packets.ErrBadAuthenticationMethod, "authentication method %q is not supported", pk.Properties.AuthenticationMethod)
	case pk.Connect.WillFlag && topic.ValidName(pk.Connect.WillTopic) != nil:
		return refuse(packets.ErrProtocolViolation, "will topic %q is not a valid topic name", pk.Connect.WillTopic)
	}
	return nil
}

// OnConnectAuthenticate admits every client that reaches it: mochi asks it
// only after every hook's OnConnect returned nil, and OnConnect is where
// the login was decided.
func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	return true
}

// OnACLCheck answers mochi's questions. A write is a QoS 0 PUBLISH, which
// allowPublish judges in OnPublish (mochi would disconnect a v3 client on a
// refusal; Mosquitto drops the message): the answer here is yes. A read is
// a SUBSCRIBE filter or a delivery. OnSubscribe has already judged every
// filter and renamed the refused ones, so a filter is answered from its
// name; what is left is a delivery, answered by the receive ACL. A literal
// filter is indistinguishable from the delivery of its topic: OnSubscribe
// refuses it when that topic may not be received, so the receive answer
// holds for both.
func (h *authHook) OnACLCheck(cl *mqtt.Client, t string, write bool) bool {
	if cl.Net.Inline || write {
		return true
	}
	if _, refused := refusedFilter(t); refused {
		return false
	}
	if !h.b.mountedDelivery(cl, t) {
		return false // no topic of its own under the listener's mount point
	}
	ls := h.b.lis[cl.Net.Listener]
	if ls == nil {
		return false // a restored session of a listener no longer configured
	}
	if _, shared := sharedFilter(t); shared {
		// A shared filter OnSubscribe allowed, or a topic name with a share
		// prefix (only a shared subscription with such an inner filter
		// receives it): both keep the rule of the inner filter.
		return allowSubscribe(ls, username(cl), cl.ID, t)
	}
	if topic.HasWildcard(t) {
		return true // a filter OnSubscribe allowed: no topic name has one
	}
	if !allow(ls, username(cl), cl.ID, t, dynsec.PublishReceive) {
		h.b.noteDenial(dynsec.PublishReceive)
		return false
	}
	return true
}

// allow is the ACL question about topic or filter t for one client.
func allow(ls *listenerState, user, id, t string, a dynsec.Access) bool {
	if ls.noControl && dynsec.IsControlTopic(t) {
		return false
	}
	// A topic name that starts with "$share" is never published nor
	// received, whatever the ACL says: only SUBSCRIBE and UNSUBSCRIBE use
	// the prefix, as in Mosquitto (acl__check_dollar). An ACL on
	// "$share/g/..." names those levels (topic.MatchACL), so without this
	// it would grant the topic "$share/g/...".
	if (a == dynsec.PublishSend || a == dynsec.PublishReceive) && strings.HasPrefix(t, "$share") {
		return false
	}
	if ls.conf.Enrollment {
		if ok, decided := enrollAllow(user, t, a); decided {
			return ok
		}
	}
	if ls.auth == nil {
		return true
	}
	return ls.auth.Allow(user, id, t, a)
}

// OnPublish is judgePublish as mochi would call it.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	return pk, h.judgePublish(cl, &pk)
}

// judgePublish drops, with a normal acknowledgement, a QoS 0 publish the
// ACL refuses (QoS 1 and 2 never reach mochi: inboundHook owns them), and
// answers $CONTROL/dynamic-security/v1 requests instead of delivering them.
func (h *authHook) judgePublish(cl *mqtt.Client, pk *packets.Packet) error {
	if cl.Net.Inline {
		return nil
	}
	if !h.b.allowPublish(cl, pk) {
		return packets.CodeSuccessIgnore
	}
	if pk.TopicName == EnrollTopic {
		if ls := h.b.lis[cl.Net.Listener]; ls != nil && ls.conf.Enrollment {
			h.b.enroll(cl, *pk)
			return packets.CodeSuccessIgnore
		}
	}
	if pk.TopicName == dynsec.ControlTopic && h.b.dynsec != nil {
		if ls := h.b.lis[cl.Net.Listener]; ls == nil || ls.noControl {
			return packets.CodeSuccessIgnore
		}
		h.b.control(cl, *pk)
		return packets.CodeSuccessIgnore
	}
	return nil
}

// allowPublish is the publish ACL of every PUBLISH a client sends, of both
// protocol versions and every QoS. A refusal is logged, and counted when
// nothing on the wire shows it: QoS 0, and v3 at any QoS (a v5 client's
// QoS 1 and 2 get PUBACK/PUBREC 0x87, which the observer's owner counts
// from the wire).
func (b *Broker) allowPublish(cl *mqtt.Client, pk *packets.Packet) bool {
	if ls := b.lis[cl.Net.Listener]; ls != nil && allow(ls, username(cl), cl.ID, pk.TopicName, dynsec.PublishSend) {
		return true
	}
	if pk.FixedHeader.Qos == 0 || cl.Properties.ProtocolVersion < 5 {
		b.noteDenial(dynsec.PublishSend)
	}
	if b.debug {
		b.log.Debug(fmt.Sprintf("Denied PUBLISH from %s (q%d, r%d, '%s').", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), pk.TopicName))
	}
	return false
}

func (h *authHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	h.b.logConnect(cl, pk)
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.forgetUnsubscribes(cl)
	h.b.logDisconnect(cl, err)
}
