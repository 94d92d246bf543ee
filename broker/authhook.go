package broker

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
	"mqtls/topic"
)

// authHook is the only hook that answers OnConnectAuthenticate and
// OnACLCheck (mochi ORs them across hooks). It decides every login in
// OnConnect, where it can still send the CONNACK code it wants, and closes
// mochi's holes there: certificate identities, the session-takeover guard
// and the will ACL.
type authHook struct {
	mqtt.HookBase
	b *Broker

	// passed holds the clients whose OnConnect accepted the login.
	passed sync.Map // *mqtt.Client -> struct{}

	// subscribing counts, per client and filter, the SUBSCRIBE filters being
	// checked right now: mochi asks OnACLCheck(write=false) both for those
	// and for deliveries. Writers (SUBSCRIBE only) hold subMu; deliveries
	// read without a lock, and only while pending says some SUBSCRIBE is in
	// progress somewhere. Values are immutable counts (int).
	subMu       sync.Mutex
	subscribing sync.Map // subKey -> int
	// pending counts the entries of subscribing.
	pending atomic.Int64

	// pubDenied holds the v5 clients whose PUBLISH the ACL just refused,
	// until OnPacketProcessed sees its QoS (mochi asks the ACL before
	// anything else and tells the hook no QoS).
	pubDenied  sync.Map // *mqtt.Client -> struct{}
	pubPending atomic.Int64

	// unsubDenied holds the refused filters of a v5 UNSUBSCRIBE until its
	// UNSUBACK is encoded (see unsubscribe.go).
	unsubDenied  sync.Map // unsubKey -> []int
	unsubPending atomic.Int64
}

type subKey struct {
	cl     *mqtt.Client
	filter string
}

var _ mqtt.Hook = (*authHook)(nil)

func (h *authHook) ID() string { return "mqtls-auth" }

func (h *authHook) Provides(b byte) bool {
	return bytes.Contains([]byte{
		mqtt.OnConnect, mqtt.OnConnectAuthenticate, mqtt.OnACLCheck,
		mqtt.OnSubscribe, mqtt.OnSubscribed, mqtt.OnUnsubscribe, mqtt.OnPublish,
		mqtt.OnPacketEncode, mqtt.OnPacketProcessed,
		mqtt.OnSessionEstablished, mqtt.OnDisconnect,
	}, []byte{b})
}

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
	h.passed.Store(cl, struct{}{})
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
		if strings.HasPrefix(wt, "$") || (ls.auth != nil && !ls.auth.Allow(username, cl.ID, wt, dynsec.PublishSend)) {
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

func (h *authHook) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	_, ok := h.passed.LoadAndDelete(cl)
	return ok
}

func (h *authHook) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	if cl.Net.Inline {
		return pk
	}
	h.subMu.Lock()
	for _, f := range pk.Filters {
		k := subKey{cl, f.Filter}
		n, _ := h.subscribing.Load(k)
		if n == nil {
			n = 0
		}
		h.subscribing.Store(k, n.(int)+1)
		h.pending.Add(1)
	}
	h.subMu.Unlock()
	return pk
}

func (h *authHook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if !cl.Net.Inline {
		h.subMu.Lock()
		for _, f := range pk.Filters {
			k := subKey{cl, f.Filter}
			n, ok := h.subscribing.Load(k)
			if !ok {
				continue
			}
			h.pending.Add(-1)
			if n.(int) <= 1 {
				h.subscribing.Delete(k)
			} else {
				h.subscribing.Store(k, n.(int)-1)
			}
		}
		h.subMu.Unlock()
	}
	h.b.logSubscribe(cl, pk)
}

// OnACLCheck answers publishes (write), subscriptions and deliveries.
func (h *authHook) OnACLCheck(cl *mqtt.Client, t string, write bool) bool {
	if cl.Net.Inline {
		return true
	}
	ls := h.b.lis[cl.Net.Listener]
	if ls == nil {
		return false // a restored session of a listener no longer configured
	}
	user := string(cl.Properties.Username)
	if write {
		if cl.Properties.ProtocolVersion < 5 {
			// mochi disconnects a v3 client on a refused QoS>0 publish;
			// Mosquitto acks and drops it. OnPublish does that.
			return true
		}
		if !allow(ls, user, cl.ID, t, dynsec.PublishSend) {
			if _, loaded := h.pubDenied.LoadOrStore(cl, struct{}{}); !loaded {
				h.pubPending.Add(1)
			}
			return false
		}
		return true
	}
	ok, delivery := h.readCheck(ls, cl, user, t)
	if !ok && delivery {
		h.b.noteDenial(dynsec.PublishReceive)
	}
	return ok
}

// readCheck answers the write=false questions: subscriptions and
// deliveries; delivery reports which one it was.
func (h *authHook) readCheck(ls *listenerState, cl *mqtt.Client, user, t string) (ok, delivery bool) {
	if _, shared := sharedFilter(t); shared || topic.HasWildcard(t) {
		return allowSubscribe(ls, user, cl.ID, t), false
	}
	sub := false
	if h.pending.Load() > 0 {
		_, sub = h.subscribing.Load(subKey{cl, t})
	}
	if sub {
		// A literal filter being subscribed, or a delivery of the same topic
		// at that moment: both answers must agree (fails closed).
		return allowSubscribe(ls, user, cl.ID, t) && allow(ls, user, cl.ID, t, dynsec.PublishReceive), false
	}
	return allow(ls, user, cl.ID, t, dynsec.PublishReceive), true
}

func allow(ls *listenerState, user, id, t string, a dynsec.Access) bool {
	if ls.noControl && dynsec.IsControlTopic(t) {
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

// allowSubscribe checks a filter; a shared subscription (in any case of
// its prefix, as mochi routes it) is checked by its inner filter, as in
// Mosquitto.
func allowSubscribe(ls *listenerState, user, id, f string) bool {
	if inner, ok := sharedFilter(f); ok {
		if inner == "" {
			return false
		}
		f = inner
	}
	return allow(ls, user, id, f, dynsec.Subscribe)
}

// OnPublish drops, with a normal acknowledgement, a v3 publish the ACL
// refuses (see OnACLCheck), and answers $CONTROL/dynamic-security/v1
// requests instead of delivering them.
func (h *authHook) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	if cl.Net.Inline {
		return pk, nil
	}
	if cl.Properties.ProtocolVersion < 5 {
		ls := h.b.lis[cl.Net.Listener]
		if ls == nil || !allow(ls, string(cl.Properties.Username), cl.ID, pk.TopicName, dynsec.PublishSend) {
			h.b.noteDenial(dynsec.PublishSend)
			h.b.log.Debug(fmt.Sprintf("Denied PUBLISH from %s (q%d, r%d, '%s').", cl.ID, pk.FixedHeader.Qos, boolInt(pk.FixedHeader.Retain), pk.TopicName))
			return pk, packets.CodeSuccessIgnore
		}
	}
	if pk.TopicName == EnrollTopic {
		if ls := h.b.lis[cl.Net.Listener]; ls != nil && ls.conf.Enrollment {
			h.b.enroll(cl, pk)
			return pk, packets.CodeSuccessIgnore
		}
	}
	if pk.TopicName == dynsec.ControlTopic && h.b.dynsec != nil {
		if ls := h.b.lis[cl.Net.Listener]; ls == nil || ls.noControl {
			return pk, packets.CodeSuccessIgnore
		}
		h.b.control(cl, pk)
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// OnPacketProcessed reports a v5 QoS 0 publish the ACL refused: nothing on
// the wire shows that one (QoS 1 and 2 get PUBACK/PUBREC 0x87, which the
// observer's owner counts from the wire).
func (h *authHook) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, _ error) {
	if pk.FixedHeader.Type != packets.Publish || h.pubPending.Load() == 0 {
		return
	}
	if _, ok := h.pubDenied.LoadAndDelete(cl); !ok {
		return
	}
	h.pubPending.Add(-1)
	if pk.FixedHeader.Qos == 0 {
		h.b.noteDenial(dynsec.PublishSend)
		h.b.log.Debug(fmt.Sprintf("Denied PUBLISH from %s (q0, r%d, '%s').", cl.ID, boolInt(pk.FixedHeader.Retain), pk.TopicName))
	}
}

func (h *authHook) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	h.b.logConnect(cl, pk)
}

func (h *authHook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.passed.Delete(cl)
	if _, ok := h.pubDenied.LoadAndDelete(cl); ok {
		h.pubPending.Add(-1)
	}
	h.forgetUnsubscribes(cl)
	h.forgetSubscribes(cl)
	h.b.logDisconnect(cl, err)
}

// forgetSubscribes drops the pending SUBSCRIBE filters of a client that went
// away before mochi called OnSubscribed.
func (h *authHook) forgetSubscribes(cl *mqtt.Client) {
	if h.pending.Load() == 0 {
		return
	}
	h.subMu.Lock()
	defer h.subMu.Unlock()
	h.subscribing.Range(func(k, n any) bool {
		if k.(subKey).cl == cl {
			h.subscribing.Delete(k)
			h.pending.Add(-int64(n.(int)))
		}
		return true
	})
}
