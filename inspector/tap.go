package inspector

import (
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"mqtls/certs"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"
)

// tap is the mochi hook. It runs on the publisher's goroutine, so it does
// little: a map lookup, one short lock and a bounded copy per message.
type tap struct {
	mqtt.HookBase
	i *Inspector

	in, out     [3]atomic.Uint64 // messages by QoS
	authFailed  sync.Map         // reason → *atomic.Uint64
	aclDenied   [5]atomic.Uint64 // by dynsec.Access
	tlsFailures atomic.Uint64
	// pagePublished counts the page's publishes that the broker delivered:
	// a hook that drops one (ErrRejectPacket, or CodeSuccessIgnore) keeps
	// it from OnPublished, which is how the page learns of it.
	pagePublished atomic.Uint64

	clock     atomic.Int64 // unix milliseconds, 0 when not running
	stop      chan struct{}
	stopOnce  sync.Once
	startOnce sync.Once
}

var _ mqtt.Hook = (*tap)(nil)

func (h *tap) ID() string { return "inspector" }

// Provides is asked for every event of every packet: a switch, not a search.
func (h *tap) Provides(b byte) bool {
	switch b {
	case mqtt.OnStarted, mqtt.OnPublished, mqtt.OnWillSent, mqtt.OnPacketSent,
		mqtt.OnSysInfoTick:
		return true
	}
	return false
}

// OnStarted seeds the topics with the retained messages restored from storage.
func (h *tap) OnStarted() {
	h.clock.Store(time.Now().UnixMilli())
	go h.runClock()
	for _, pk := range h.i.srv.Topics.Retained.GetAll() {
		if strings.HasPrefix(pk.TopicName, "$SYS/") {
			continue
		}
		h.record(nil, pk, time.UnixMilli(pk.Created*1000))
	}
	h.startOnce.Do(func() { close(h.i.started) })
}

// OnPublished skips what the broker did not deliver: a publish its hooks
// set aside (a v3.1.1 publish the ACL refused, a $CONTROL request, whose
// payload may hold a password) and its own $SYS statistics.
func (h *tap) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	if pk.Ignore || strings.HasPrefix(pk.TopicName, "$SYS/") {
		return
	}
	if cl == h.i.inline {
		h.pagePublished.Add(1)
	}
	h.in[min(pk.FixedHeader.Qos, 2)].Add(1)
	h.record(cl, pk, h.now())
}

func (h *tap) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	if strings.HasPrefix(pk.TopicName, "$SYS/") {
		return
	}
	h.in[min(pk.FixedHeader.Qos, 2)].Add(1)
	h.record(cl, pk, time.Now())
}

// now is the time from a clock that ticks every clockTick while the server
// runs: reading the system clock on every message costs more than the rest
// of the tap's bookkeeping.
func (h *tap) now() time.Time {
	if ms := h.clock.Load(); ms != 0 {
		return time.UnixMilli(ms)
	}
	return time.Now()
}

const clockTick = 10 * time.Millisecond

func (h *tap) runClock() {
	t := time.NewTicker(clockTick)
	defer t.Stop()
	for {
		h.clock.Store(time.Now().UnixMilli())
		select {
		case <-h.stop:
			h.clock.Store(0)
			return
		case <-t.C:
		}
	}
}

// Stop ends the clock; mochi calls it when the server closes.
func (h *tap) Stop() error {
	h.stopOnce.Do(func() { close(h.stop) })
	return nil
}

// record updates the state of pk's topic.
// $SYS topics are left out: they are the broker's own statistics, shown in
// the page's header and in /metrics, and must not push device topics out.
func (h *tap) record(cl *mqtt.Client, pk packets.Packet, t time.Time) {
	s := h.i.store
	st := s.get(pk.TopicName)
	if st == nil {
		return
	}
	ms := t.UnixMilli()
	payload := pk.Payload
	n := min(len(payload), h.i.opts.PayloadBytes)

	st.mu.Lock()
	if st.dead {
		st.mu.Unlock()
		return
	}
	st.count++
	st.bytes += uint64(len(payload))
	st.rate.add(ms / 1000)
	prevUser := st.last().Username
	m := st.next(max(h.i.opts.History, 2))
	st.costs -= m.cost
	if n > cap(m.Payload) || cap(m.Payload) > 2*n+64 {
		// a new buffer whose cap is its allocation's size class, so that
		// the account counts what the heap holds
		m.Payload = nil
	}
	m.Payload = append(m.Payload[:0], payload[:n]...)
	m.Size = len(payload)
	m.Time = ms
	m.N = st.count
	m.QoS = pk.FixedHeader.Qos
	m.Retain = pk.FixedHeader.Retain
	m.Props.set(&pk.Properties)
	m.ClientID, m.Username, m.CN = "", "", ""
	if cl != nil {
		m.ClientID = cl.ID
		if cl.Net.Inline {
			m.ClientID = InlineClientID
		}
		// Reuse the previous message's strings: no allocation per message
		// for a publisher that keeps publishing.
		if string(cl.Properties.Username) == prevUser {
			m.Username = prevUser
		} else {
			m.Username = string(cl.Properties.Username)
		}
		m.CN = certCN(cl)
	}
	m.cost = msgCost(m)
	st.costs += m.cost
	if pk.FixedHeader.Retain {
		st.retained = len(payload) > 0
	}
	st.hist.record(payload, ms)
	delta := st.account()
	st.seq.Store(s.seq.Add(1))
	st.mu.Unlock()
	s.charge(delta)
}

// certCN is the CN of the client's verified certificate, as the broker
// derived it when the TLS handshake was done (certs.Identity; its TLS and
// WebSocket connections carry it), or "".
func certCN(cl *mqtt.Client) string {
	ic, ok := cl.Net.Conn.(interface {
		Identity() (certs.ClientIdentity, error)
	})
	if !ok {
		return ""
	}
	id, err := ic.Identity()
	if err != nil {
		return ""
	}
	return id.CN
}

// OnPacketSent counts deliveries, and the refusals that the wire shows:
// failed CONNACKs (by reason) and denied SUBSCRIBEs and QoS 1/2 PUBLISHes.
func (h *tap) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	switch pk.FixedHeader.Type {
	case packets.Publish:
		h.out[min(pk.FixedHeader.Qos, 2)].Add(1)
	case packets.Connack:
		if r := connackReason(pk.ReasonCode, cl.Properties.ProtocolVersion); r != "" {
			h.countAuthFailure(r)
		}
	case packets.Suback:
		for _, c := range pk.ReasonCodes {
			// 0x87 not authorized (v5); 0x80 failure (v3, and v5 brokers
			// that obscure the reason)
			if c == packets.ErrNotAuthorized.Code || c == packets.ErrUnspecifiedError.Code {
				h.aclDenied[subscribeAccess].Add(1)
			}
		}
	case packets.Puback, packets.Pubrec:
		if pk.ReasonCode == packets.ErrNotAuthorized.Code {
			h.aclDenied[publishAccess].Add(1)
		}
	}
}

const (
	publishAccess   = 1 // dynsec.PublishSend
	subscribeAccess = 3 // dynsec.Subscribe
)

func (h *tap) countAuthFailure(reason string) {
	c, _ := h.authFailed.LoadOrStore(reason, new(atomic.Uint64))
	c.(*atomic.Uint64).Add(1)
}

// connackReason names a refused CONNACK, or returns "" for a success.
func connackReason(code, version byte) string {
	if version < 5 {
		switch code {
		case 0:
			return ""
		case packets.Err3UnsupportedProtocolVersion.Code:
			return "protocol_version"
		case packets.Err3ClientIdentifierNotValid.Code:
			return "client_id"
		case packets.Err3ServerUnavailable.Code:
			return "server_unavailable"
		case packets.ErrMalformedUsernameOrPassword.Code:
			return "bad_credentials"
		case packets.Err3NotAuthorized.Code:
			// mochi sends v3 code 5 for both a bad password and a refusal
			return "not_authorized"
		}
		return "code_" + strconv.Itoa(int(code))
	}
	switch {
	case code < 0x80:
		return ""
	case code == packets.ErrBadUsernameOrPassword.Code:
		return "bad_credentials"
	case code == packets.ErrNotAuthorized.Code:
		return "not_authorized"
	case code == packets.ErrClientIdentifierNotValid.Code:
		return "client_id"
	case code == packets.ErrBanned.Code:
		return "banned"
	case code == packets.ErrServerUnavailable.Code, code == packets.ErrServerBusy.Code:
		return "server_unavailable"
	case code == packets.ErrUnsupportedProtocolVersion.Code:
		return "protocol_version"
	}
	return "code_" + strconv.Itoa(int(code))
}

// sysTopics are the Mosquitto $SYS names that mochi does not publish itself.
func (h *tap) OnSysInfoTick(info *system.Info) {
	pub := func(name string, v int64) {
		_ = h.i.srv.InjectPacket(h.i.inline, packets.Packet{
			FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true},
			TopicName:   name,
			Payload:     []byte(strconv.FormatInt(v, 10)),
		})
	}
	pub("$SYS/broker/retained messages/count", info.Retained)
	pub("$SYS/broker/subscriptions/count", info.Subscriptions)
	pub("$SYS/broker/clients/active", info.ClientsConnected)
	pub("$SYS/broker/clients/inactive", info.ClientsDisconnected)
	pub("$SYS/broker/messages/stored", info.Retained)
	pub("$SYS/broker/publish/messages/received", int64(h.in[0].Load()+h.in[1].Load()+h.in[2].Load()))
	pub("$SYS/broker/publish/messages/sent", int64(h.out[0].Load()+h.out[1].Load()+h.out[2].Load()))
}
