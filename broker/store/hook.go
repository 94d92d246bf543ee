package store

import (
	"bytes"
	"encoding/binary"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"mqtls/internal/hookset"
)

// Keys. A client id is length-prefixed so that no id is a prefix of another.
const (
	kClient   = 'c' // c id -> storage.Client
	kSub      = 's' // s id filter -> storage.Subscription
	kOut      = 'o' // o id order -> outRecord (outbound QoS 1/2, with phase)
	kIn       = 'i' // i id pid -> "" (inbound QoS 2 awaiting PUBREL)
	kRetained = 'r' // r topic -> storage.Message
	kComp     = 'w' // w id filter -> "" (a subscription only the broker's wildcard companion holds)
)

func clientPart(kind byte, id string) []byte {
	b := append([]byte{kind}, binary.AppendUvarint(nil, uint64(len(id)))...)
	return append(b, id...)
}

func pidKey(kind byte, id string, pid uint16) []byte {
	return binary.BigEndian.AppendUint16(clientPart(kind, id), pid)
}

// outKeyOf is the key of a message in flight: by its arrival order, not
// its packet id, so that the completion of one message and the queueing
// of the next under the same packet id never touch the same key.
func outKeyOf(id string, order uint64) []byte {
	return binary.BigEndian.AppendUint64(clientPart(kOut, id), order)
}

// outRecord is one message in flight to a client. Order keeps the arrival
// order across a restart; Unsent says the client never got it (its first
// delivery then carries DUP 0). It is stored in the binary form of
// record.go; the JSON tags read what earlier versions wrote.
type outRecord struct {
	Order  uint64          `json:"o"`
	Unsent bool            `json:"u,omitempty"`
	Expiry int64           `json:"e,omitempty"`
	Msg    storage.Message `json:"m"`
}

// outEntry is the memory side of an outRecord.
type outEntry struct {
	order uint64
	pk    packets.Packet // as first queued: PUBLISH, or PUBREL once PUBREC came
	sent  bool
	tx    *Tx // the write that made this state durable
	// on is the connection the PUBLISH was last written on: it is never
	// written there again (see OnPacketEncode).
	on *mqtt.Client
	// unsentRec: the record on disk says Unsent; the first write of the
	// message rewrites it, so that a restart resends it with DUP 1.
	unsentRec bool
}

type outKey struct {
	client string
	pid    uint16
}

// Hook is mochi's storage hook on a [Store], with the waits that keep the
// wire behind the disk: an outgoing QoS 2 PUBLISH or PUBREL is not written
// before its state is durable (so after a crash the client is never ahead
// of the store), and a PUBREC from a subscriber moves the message to its
// PUBREL phase on disk before the PUBREL goes out.
//
// The broker's inbound path groups the writes that one publish causes
// (retained message, the entry of every subscriber, the inbound QoS 2 id)
// into one Tx with BeginPublish/EndPublish: they become durable together.
type Hook struct {
	mqtt.HookBase
	s      *Store
	server *mqtt.Server
	// callerReads: OnPacketRead and OnPacketEncode are called by the
	// caller, not by mochi (HookConfig.CallerReadsPackets).
	callerReads bool
	omit        func(*mqtt.Client) packets.Packet // HookConfig.Omit

	open sync.Map // publisher client id -> *group

	// takeover is held (write) while a connection takes over a session
	// that exists: from OnSessionEstablish until mochi has resent the
	// session's in-flight messages after the CONNACK. Publishes hold it
	// (read) while they deliver, so that no message lands on the old
	// session object after mochi copied its messages to the new one, and
	// none is added to the new one's in-flight set while mochi resends it
	// (it would be written twice: see openResend).
	takeover sync.RWMutex
	holdMu   sync.Mutex
	holding  map[*mqtt.Client]func()
	// resending holds, by connection, a channel closed once mochi has
	// resent the in-flight messages of the session it took over (see
	// OnPacketEncode); h.mu.
	resending map[*mqtt.Client]chan struct{}

	mu    sync.Mutex
	out   map[outKey]*outEntry
	spare []*outEntry               // entries of completed messages, reused (h.mu)
	in    map[string]map[uint16]*Tx // inbound QoS 2 ids by client id
	order atomic.Uint64

	// keepRetain holds the restored subscriptions that keep the retain
	// flag of what they deliver, until restoreKeepRetain gives them back
	// what mochi's loader drops.
	keepRetain []storage.Subscription
}

// group is the open Tx of one publish.
type group struct {
	mu        sync.Mutex
	tx        *Tx
	committed bool
}

// HookConfig is the Init config of Hook.
type HookConfig struct {
	Store  *Store
	Server *mqtt.Server
	// CallerReadsPackets: the caller calls OnPacketRead and OnPacketEncode
	// for the packet types of PacketTypes, and mochi is not asked to.
	CallerReadsPackets bool
	// Omit is what OnPacketEncode returns for a PUBLISH it keeps off the
	// wire: a packet the connection leaves out, so that mochi's writer
	// goes on as after any write. Without it, a packet of type 0, which
	// mochi does not write (but writes that it gathered before wait for
	// its next write).
	Omit func(cl *mqtt.Client) packets.Packet
}

var _ mqtt.Hook = (*Hook)(nil)

func (h *Hook) ID() string { return "mqtls-store" }

var hookEvents = hookset.Of(
	mqtt.OnSessionEstablish, mqtt.OnSessionEstablished, mqtt.OnDisconnect, mqtt.OnClientExpired,
	mqtt.OnSubscribed, mqtt.OnUnsubscribed, mqtt.OnRetainMessage, mqtt.OnRetainedExpired,
	mqtt.OnQosPublish, mqtt.OnQosDropped,
	mqtt.OnPacketRead, mqtt.OnPacketEncode, mqtt.OnPacketSent,
	mqtt.OnStarted,
	mqtt.StoredClients, mqtt.StoredSubscriptions, mqtt.StoredInflightMessages,
	mqtt.StoredRetainedMessages, mqtt.StoredSysInfo,
)

func (h *Hook) Provides(b byte) bool {
	if h.callerReads && (b == mqtt.OnPacketRead || b == mqtt.OnPacketEncode) {
		return false
	}
	return hookEvents.Has(b)
}

// PacketTypes says which packets OnPacketRead and OnPacketEncode work on
// (bit t for packet type t): the others they return as they came.
func (h *Hook) PacketTypes(event byte) uint16 {
	switch event {
	case mqtt.OnPacketRead:
		return 1<<packets.Puback | 1<<packets.Pubrec | 1<<packets.Pubcomp
	case mqtt.OnPacketEncode:
		return 1<<packets.Publish | 1<<packets.Pubrel
	}
	return 0xffff
}

func (h *Hook) Init(config any) error {
	c, ok := config.(*HookConfig)
	if !ok || c.Store == nil || c.Server == nil {
		return mqtt.ErrInvalidConfigType
	}
	h.s, h.server, h.callerReads, h.omit = c.Store, c.Server, c.CallerReadsPackets, c.Omit
	if h.omit == nil {
		h.omit = func(*mqtt.Client) packets.Packet { return packets.Packet{} }
	}
	h.out = map[outKey]*outEntry{}
	h.in = map[string]map[uint16]*Tx{}
	h.holding = map[*mqtt.Client]func(){}
	h.resending = map[*mqtt.Client]chan struct{}{}
	done := durableTx()
	return h.s.Scan([]byte{kIn}, func(k, _ []byte) error {
		id, rest, ok := splitClient(k)
		if !ok || len(rest) != 2 {
			return nil
		}
		pid := binary.BigEndian.Uint16(rest)
		if h.in[id] == nil {
			h.in[id] = map[uint16]*Tx{}
		}
		h.in[id][pid] = done
		return nil
	})
}

// durable stands for a state that needs no write.
var durable = durableTx()

// durableTx is a Tx that is on disk already.
func durableTx() *Tx {
	tx := &Tx{done: make(chan struct{})}
	close(tx.done)
	return tx
}

func splitClient(k []byte) (string, []byte, bool) {
	n, w := binary.Uvarint(k[1:])
	if w <= 0 || uint64(len(k)-1-w) < n {
		return "", nil, false
	}
	start := 1 + w
	return string(k[start : start+int(n)]), k[start+int(n):], true
}

// Store is the store the hook writes to.
func (h *Hook) Store() *Store { return h.s }

// BeginPublish opens the Tx of one publish by client id: every write the
// hook makes for a packet whose origin is id joins it until EndPublish.
func (h *Hook) BeginPublish(id string) *Tx {
	h.takeover.RLock()
	if !h.s.Persistent() {
		// Nothing is written: the publish needs no Tx of its own.
		return durable
	}
	g := &group{tx: h.s.Begin()}
	h.open.Store(id, g)
	return g.tx
}

// EndPublish commits the Tx opened by BeginPublish and returns its sequence.
func (h *Hook) EndPublish(id string, tx *Tx) uint64 {
	if tx == durable {
		h.takeover.RUnlock()
		return h.s.Durable()
	}
	if v, ok := h.open.Load(id); ok {
		g := v.(*group)
		if g.tx == tx {
			h.open.CompareAndDelete(id, g)
		}
		g.mu.Lock()
		g.committed = true
		g.mu.Unlock()
	}
	h.takeover.RUnlock()
	return tx.Commit()
}

// write runs fn on the open publish Tx of origin, or on a Tx of its own
// that it commits; it returns the Tx that holds the writes.
func (h *Hook) write(origin string, fn func(tx *Tx)) *Tx {
	if origin != "" {
		if v, ok := h.open.Load(origin); ok {
			g := v.(*group)
			g.mu.Lock()
			if !g.committed {
				fn(g.tx)
				g.mu.Unlock()
				return g.tx
			}
			g.mu.Unlock()
		}
	}
	tx := h.s.Begin()
	fn(tx)
	tx.Commit()
	return tx
}

// HasInbound reports whether QoS 2 packet id pid of client id awaits PUBREL.
func (h *Hook) HasInbound(id string, pid uint16) (*Tx, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	tx, ok := h.in[id][pid]
	return tx, ok
}

// AddInbound records pid of client id as awaiting PUBREL, in tx.
func (h *Hook) AddInbound(tx *Tx, id string, pid uint16) {
	h.mu.Lock()
	if h.in[id] == nil {
		h.in[id] = map[uint16]*Tx{}
	}
	h.in[id][pid] = tx
	h.mu.Unlock()
	if h.s.Persistent() {
		tx.Put(pidKey(kIn, id, pid), nil)
	}
}

// ReleaseInbound forgets pid of client id (PUBREL) and returns the
// sequence after which the PUBCOMP may go out; ok is false when pid was
// not awaiting PUBREL.
func (h *Hook) ReleaseInbound(id string, pid uint16) (uint64, bool) {
	h.mu.Lock()
	_, ok := h.in[id][pid]
	delete(h.in[id], pid)
	h.mu.Unlock()
	if !ok {
		return 0, false
	}
	if !h.s.Persistent() {
		return h.s.Durable(), true
	}
	tx := h.s.Begin()
	tx.Del(pidKey(kIn, id, pid))
	return tx.Commit(), true
}

// forget drops the memory state of client id (its session ended).
func (h *Hook) forget(id string) {
	h.mu.Lock()
	delete(h.in, id)
	for k, e := range h.out {
		if k.client == id {
			delete(h.out, k)
			h.recycle(e)
		}
	}
	h.mu.Unlock()
}

// maxSpare bounds the entries kept for reuse.
const maxSpare = 4096

// newEntry is an entry for a message now queued, reused from a completed
// one when there is one, so that a delivery allocates nothing here (h.mu
// held). An entry is only ever read or changed under h.mu, and an entry
// taken out of h.out is recycled at once.
func (h *Hook) newEntry(order uint64, pk packets.Packet) *outEntry {
	var e *outEntry
	if n := len(h.spare); n > 0 {
		e = h.spare[n-1]
		h.spare[n-1] = nil
		h.spare = h.spare[:n-1]
	} else {
		e = new(outEntry)
	}
	*e = outEntry{order: order, pk: pk}
	return e
}

// recycle keeps e for a later message (h.mu held); its packet is dropped
// now so that the payload can be collected.
func (h *Hook) recycle(e *outEntry) {
	*e = outEntry{}
	if len(h.spare) < maxSpare {
		h.spare = append(h.spare, e)
	}
}

func deleteSession(tx *Tx, id string) {
	tx.Del(clientPart(kClient, id))
	tx.DelPrefix(clientPart(kSub, id))
	tx.DelPrefix(clientPart(kOut, id))
	tx.DelPrefix(clientPart(kIn, id))
	tx.DelPrefix(clientPart(kComp, id))
}

func clientRecord(cl *mqtt.Client) []byte {
	p := cl.Properties.Props
	c := storage.Client{
		ID: cl.ID, T: storage.ClientKey, Remote: cl.Net.Remote, Listener: cl.Net.Listener,
		Username: cl.Properties.Username, Clean: cl.Properties.Clean, ProtocolVersion: cl.Properties.ProtocolVersion,
		Properties: storage.ClientProperties{
			SessionExpiryInterval: p.SessionExpiryInterval, SessionExpiryIntervalFlag: p.SessionExpiryIntervalFlag,
			AuthenticationMethod: p.AuthenticationMethod, AuthenticationData: p.AuthenticationData,
			RequestProblemInfo: p.RequestProblemInfo, RequestProblemInfoFlag: p.RequestProblemInfoFlag,
			RequestResponseInfo: p.RequestResponseInfo, ReceiveMaximum: p.ReceiveMaximum,
			TopicAliasMaximum: p.TopicAliasMaximum, User: p.User, MaximumPacketSize: p.MaximumPacketSize,
		},
		Will: storage.ClientWill(cl.Properties.Will),
	}
	b, _ := c.MarshalBinary()
	return b
}

func message(cl string, pk packets.Packet) storage.Message {
	p := pk.Properties
	return storage.Message{
		Client: cl, Origin: pk.Origin, PacketID: pk.PacketID, FixedHeader: pk.FixedHeader,
		TopicName: pk.TopicName, Payload: pk.Payload, Created: pk.Created,
		Properties: storage.MessageProperties{
			PayloadFormat: p.PayloadFormat, PayloadFormatFlag: p.PayloadFormatFlag,
			MessageExpiryInterval: p.MessageExpiryInterval, ContentType: p.ContentType,
			ResponseTopic: p.ResponseTopic, CorrelationData: p.CorrelationData,
			SubscriptionIdentifier: p.SubscriptionIdentifier, User: p.User,
		},
	}
}

// OnSessionEstablish puts a resumed session's messages in arrival order:
// mochi resends them sorted by their Created second, so each gets a
// distinct Created in our order. Entries mochi parked for the client's
// receive maximum get their expiry back (they are all resent now).
//
// The session the CONNACK will announce is durable before it leaves
// (mochi sends it when this returns): the client record, and for a clean
// start the old session's state gone. Else a kill right after the CONNACK
// loses a new persistent session, or brings back one the client has just
// cleared, with its QoS 2 packet ids awaiting PUBREL (the new session's
// first messages under those ids would be taken for retries and dropped).
// A clean start drops the stored session here, before the client can be
// found by publishers, so that nothing queued for the new session is
// deleted with the old one. When the store cannot write, the connection
// closes instead of acknowledging.
func (h *Hook) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline {
		return
	}
	tx := h.s.Begin()
	if pk.Connect.Clean {
		h.mu.Lock()
		delete(h.in, cl.ID)
		h.mu.Unlock()
		tx.DelPrefix(clientPart(kSub, cl.ID))
		tx.DelPrefix(clientPart(kIn, cl.ID))
		tx.DelPrefix(clientPart(kOut, cl.ID))
		tx.DelPrefix(clientPart(kComp, cl.ID))
	}
	tx.Put(clientPart(kClient, cl.ID), clientRecord(cl))
	if err := h.s.Wait(tx.Commit()); err != nil {
		cl.Stop(err)
		return
	}
	if pk.Connect.Clean {
		return
	}
	old, ok := h.server.Clients.Get(cl.ID)
	if !ok || old.Net.Inline {
		return
	}
	h.openResend(cl)
	h.takeover.Lock()
	var once sync.Once
	release := func() { once.Do(h.takeover.Unlock) }
	// A connection that fails before the resend ends (mochi then calls no
	// hook) or a client slow to take it must not hold every publish long.
	t := time.AfterFunc(2*time.Second, release)
	h.holdMu.Lock()
	h.holding[cl] = func() { t.Stop(); release() }
	h.holdMu.Unlock()
	h.renumber(old)
}

// resendWait bounds how long a connection's writer waits for mochi's
// resend (a connection that fails before it never ends it).
const resendWait = 5 * time.Second

// openResend starts the resend window of cl: mochi resends the session's
// in-flight messages after the CONNACK, while a message delivered to the
// session meanwhile (by a will, a broker message, or while mochi copies
// the session) is both in that set and in the connection's write queue.
// Until the resend is done, a queued PUBLISH waits for it, so that the
// resend writes each message first and the queued copy is not written
// (OnPacketEncode).
func (h *Hook) openResend(cl *mqtt.Client) {
	ch := make(chan struct{})
	h.mu.Lock()
	h.resending[cl] = ch
	h.mu.Unlock()
	time.AfterFunc(resendWait, func() { h.closeResend(cl, ch) })
}

// closeResend ends the resend window of cl (ch, or whichever is open when
// ch is nil).
func (h *Hook) closeResend(cl *mqtt.Client, ch chan struct{}) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cur, ok := h.resending[cl]
	if !ok || (ch != nil && cur != ch) {
		return
	}
	delete(h.resending, cl)
	close(cur)
}

// OnSessionEstablished: mochi has resent the session's in-flight messages.
func (h *Hook) OnSessionEstablished(cl *mqtt.Client, _ packets.Packet) {
	h.closeResend(cl, nil)
	h.release(cl)
}

// release ends the takeover that cl holds, if any.
func (h *Hook) release(cl *mqtt.Client) {
	h.holdMu.Lock()
	f, ok := h.holding[cl]
	delete(h.holding, cl)
	h.holdMu.Unlock()
	if ok {
		f()
	}
}

func (h *Hook) renumber(cl *mqtt.Client) {
	all := cl.State.Inflight.GetAll(false)
	h.mu.Lock()
	type item struct {
		pk    packets.Packet
		order uint64
	}
	items := make([]item, 0, len(all))
	for _, p := range all {
		it := item{pk: p}
		if e, ok := h.out[outKey{cl.ID, p.PacketID}]; ok {
			it.order = e.order
			if p.Expiry < 0 {
				it.pk.Expiry = e.pk.Expiry
			}
		}
		items = append(items, it)
	}
	h.mu.Unlock()
	slices.SortStableFunc(items, func(a, b item) int {
		switch {
		case a.order < b.order:
			return -1
		case a.order > b.order:
			return 1
		}
		return 0
	})
	base := time.Now().Unix() - int64(len(items))
	h.mu.Lock()
	for i, it := range items {
		it.pk.Created = base + int64(i)
		cl.State.Inflight.Set(it.pk)
		if e, ok := h.out[outKey{cl.ID, it.pk.PacketID}]; ok && e.order == it.order {
			e.pk.Created = it.pk.Created
		}
	}
	h.mu.Unlock()
}

func (h *Hook) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	h.release(cl)
	h.closeResend(cl, nil)
	if !expire || cl.Net.Inline || cl.IsTakenOver() || errors.Is(cl.StopCause(), packets.ErrSessionTakenOver) {
		return
	}
	h.forget(cl.ID)
	tx := h.s.Begin()
	deleteSession(tx, cl.ID)
	tx.Commit()
}

// OnClientExpired deletes the session. mochi expires the clients of a
// copy of its list and then deletes the id from the list: a connection
// that took the session over in between has resumed a session that is
// gone (mochi deletes it from the list next, the store forgets it here),
// and it is closed, so that its reconnect starts a session both know.
func (h *Hook) OnClientExpired(cl *mqtt.Client) {
	if cur, ok := h.server.Clients.Get(cl.ID); ok && cur != cl && !cur.Net.Inline {
		_ = h.server.DisconnectClient(cur, packets.ErrServerBusy)
		cur.Stop(packets.ErrServerBusy)
	}
	h.forget(cl.ID)
	tx := h.s.Begin()
	deleteSession(tx, cl.ID)
	tx.Commit()
}

// OnSubscribed stores the granted subscriptions only: a refused filter
// (code 0x80 or more) must not come back as a subscription after a restart.
// mochi sends the SUBACK when it returns: only once they are durable.
func (h *Hook) OnSubscribed(cl *mqtt.Client, pk packets.Packet, codes []byte) {
	if cl.Net.Inline {
		return
	}
	tx := h.s.Begin()
	for i, f := range pk.Filters {
		if i >= len(codes) || codes[i] >= 0x80 {
			continue
		}
		sub := storage.Subscription{
			T: storage.SubscriptionKey, Client: cl.ID, Filter: f.Filter, Identifier: f.Identifier,
			RetainHandling: f.RetainHandling, Qos: codes[i], RetainAsPublished: f.RetainAsPublished, NoLocal: f.NoLocal,
		}
		b, _ := sub.MarshalBinary()
		tx.Put(append(clientPart(kSub, cl.ID), f.Filter...), b)
	}
	h.ackDurable(cl, tx)
}

// OnUnsubscribed deletes the subscriptions; mochi sends the UNSUBACK when
// it returns: only once that is durable.
func (h *Hook) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	if cl.Net.Inline || cl.IsTakenOver() {
		return
	}
	tx := h.s.Begin()
	for _, f := range pk.Filters {
		tx.Del(append(clientPart(kSub, cl.ID), f.Filter...))
	}
	h.ackDurable(cl, tx)
}

// SetCompanions records which subscriptions of client id the broker holds
// only as the companion of a "P/#" (set) and which the client now holds
// itself or no longer (unset), so that a restart tells the two apart. The
// broker calls it from its own OnSubscribed/OnUnsubscribed hook, which runs
// before this hook's: the SUBACK or UNSUBACK that waits for this hook's
// later write waits for this one too (the writer applies in order).
func (h *Hook) SetCompanions(id string, set, unset []string) {
	if !h.s.Persistent() || len(set)+len(unset) == 0 {
		return
	}
	tx := h.s.Begin()
	for _, f := range unset {
		tx.Del(append(clientPart(kComp, id), f...))
	}
	for _, f := range set {
		tx.Put(append(clientPart(kComp, id), f...), nil)
	}
	tx.Commit()
}

// StoredCompanions returns, by client id, the subscriptions that only a
// wildcard companion holds, as SetCompanions left them.
func (h *Hook) StoredCompanions() (map[string]map[string]bool, error) {
	v := map[string]map[string]bool{}
	err := h.s.Scan([]byte{kComp}, func(k, _ []byte) error {
		id, f, ok := splitClient(k)
		if !ok {
			return nil
		}
		if v[id] == nil {
			v[id] = map[string]bool{}
		}
		v[id][string(f)] = true
		return nil
	})
	return v, err
}

// ackDurable commits tx and waits until it is durable, so that the
// acknowledgement mochi sends next never runs ahead of the disk; when it
// never will be durable, the connection closes instead of acknowledging.
func (h *Hook) ackDurable(cl *mqtt.Client, tx *Tx) {
	if err := h.s.Wait(tx.Commit()); err != nil {
		cl.Stop(err)
	}
}

func (h *Hook) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	if !h.s.Persistent() {
		return
	}
	key := append([]byte{kRetained}, pk.TopicName...)
	h.write(cl.ID, func(tx *Tx) {
		if r == -1 {
			tx.Del(key)
			return
		}
		m := message(cl.ID, pk)
		b, _ := m.MarshalBinary()
		tx.Put(key, b)
	})
}

func (h *Hook) OnRetainedExpired(filter string) {
	tx := h.s.Begin()
	tx.Del(append([]byte{kRetained}, filter...))
	tx.Commit()
}

// OnQosPublish stores a message queued for cl (the write joins the
// publish's Tx). A resend of a stored message writes nothing.
func (h *Hook) OnQosPublish(cl *mqtt.Client, pk packets.Packet, _ int64, _ int) {
	if cl.Net.Inline || (pk.FixedHeader.Type != packets.Publish && pk.FixedHeader.Type != packets.Pubrel) {
		return
	}
	k := outKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	var stale []byte
	if old, ok := h.out[k]; ok {
		if pk.FixedHeader.Dup || pk.FixedHeader.Type == packets.Pubrel || samePublish(old.pk, pk) {
			// The message stored already: mochi resends it, or (while a
			// session is taken over) its resend came before the delivery.
			h.mu.Unlock()
			return
		}
		// Another message under the id: the old one is over, and its
		// record goes with it (a record left behind is resent after a
		// restart, a completed QoS 2 message delivered twice).
		if h.s.Persistent() {
			stale = outKeyOf(cl.ID, old.order)
		}
		delete(h.out, k)
		h.recycle(old)
	}
	order := h.order.Add(1)
	e := h.newEntry(order, pk)
	h.out[k] = e
	if !h.s.Persistent() {
		e.tx = durable
		h.mu.Unlock()
		return
	}
	h.mu.Unlock()
	rec := outRecord{Order: order, Unsent: cl.Net.Conn == nil || cl.Closed(), Expiry: pk.Expiry, Msg: message(cl.ID, pk)}
	b := appendRecord(nil, &rec)
	key := outKeyOf(cl.ID, order)
	tx := h.write(pk.Origin, func(tx *Tx) {
		if stale != nil {
			tx.Del(stale)
		}
		tx.PutNew(key, b)
	})
	h.mu.Lock()
	// The entry may have completed and been reused meanwhile: the order
	// names this message alone.
	if e := h.out[k]; e != nil && e.order == order {
		e.tx = tx
		e.unsentRec = rec.Unsent
	}
	h.mu.Unlock()
}

// samePublish reports whether a and b are the same message in flight
// under one packet id (a copy of it, or the same one restored).
func samePublish(a, b packets.Packet) bool {
	return a.TopicName == b.TopicName && sameOnWire(a, b)
}

// sameOnWire is samePublish for a packet being encoded: its topic may be
// another hook's (a mount point's) already.
func sameOnWire(a, b packets.Packet) bool {
	return a.FixedHeader.Type == packets.Publish && b.FixedHeader.Type == packets.Publish &&
		a.Created == b.Created && a.Origin == b.Origin && samePayload(a.Payload, b.Payload)
}

// samePayload compares payloads: a copy of a message shares its payload
// (mochi's Packet.Copy and the loader keep the slice), so the bytes are
// compared only for two slices that differ; the same publisher's messages
// of one second under one reused packet id are told apart by them.
func samePayload(a, b []byte) bool {
	return len(a) == len(b) && (len(a) == 0 || &a[0] == &b[0] || bytes.Equal(a, b))
}

// OnQosComplete is not provided: mochi calls it after the packet id is
// free again, when a new message may already use it, and its loop copies
// the 800-byte packet into every hook that provides it. OnPacketRead
// completes the message when its acknowledgement arrives, before that.

// OnQosDropped forgets a message, except when mochi clears a session that
// a new connection took over with its messages.
func (h *Hook) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	t := pk.FixedHeader.Type
	if cl.IsTakenOver() || cl.Net.Inline || (t != packets.Publish && t != packets.Pubrel) {
		return // an acknowledgement: OnPacketRead has seen it
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	// mochi freed the packet id before calling: forget the message only if
	// the id still names it.
	if e, ok := h.out[outKey{cl.ID, pk.PacketID}]; ok && e.pk.FixedHeader.Type == packets.Publish && t == packets.Publish &&
		(e.pk.Created != pk.Created || e.pk.Origin != pk.Origin || e.pk.TopicName != pk.TopicName) {
		return
	}
	h.forgetOut(cl.ID, pk.PacketID)
}

// forgetOut deletes the message in flight to id under pid (h.mu held).
func (h *Hook) forgetOut(id string, pid uint16) {
	k := outKey{id, pid}
	e, ok := h.out[k]
	if !ok {
		return
	}
	delete(h.out, k)
	order := e.order
	h.recycle(e)
	if h.s.Persistent() {
		tx := h.s.Begin()
		tx.Del(outKeyOf(id, order))
		tx.Commit()
	}
}

// OnPacketReadInPlace handles the acknowledgements a subscriber sends for the
// broker's messages. A PUBREC moves the message to its PUBREL phase on
// disk. (mochi parks no message, and so never drops one it sent from the
// in-flight set: the broker's send window holds the messages beyond a
// client's Receive Maximum.)
func (h *Hook) OnPacketReadInPlace(cl *mqtt.Client, pk *packets.Packet) error {
	t := pk.FixedHeader.Type
	if (t != packets.Puback && t != packets.Pubrec && t != packets.Pubcomp) || pk.PacketID == 0 {
		return nil
	}
	k := outKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.out[k]
	if !ok {
		return nil
	}
	if !answers(e, *pk) {
		// A stale answer (to an earlier message under the id): it
		// completes nothing, and mochi must not see it either.
		*pk = Ignored(*pk)
		return nil
	}
	switch {
	case t == packets.Puback, t == packets.Pubcomp, t == packets.Pubrec && pk.ReasonCode >= 0x80:
		// Complete: mochi frees the packet id next.
		h.forgetOut(cl.ID, pk.PacketID)
		return nil
	}
	if t == packets.Pubrec && e.pk.FixedHeader.Type == packets.Publish {
		rel := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Pubrel, Qos: 1}, PacketID: pk.PacketID,
			Origin: e.pk.Origin, Created: e.pk.Created}
		e.pk, e.tx = rel, durable
		if h.s.Persistent() {
			b := appendRecord(nil, &outRecord{Order: e.order, Msg: message(cl.ID, rel)})
			tx := h.s.Begin()
			tx.Put(outKeyOf(cl.ID, e.order), b)
			tx.Commit()
			e.tx = tx
		}
	}
	return nil
}

// Stale reports whether the PUBACK, PUBREC or PUBCOMP pk of cl answers a
// message other than the one its packet id names now: mochi starts each
// new connection's packet ids at 1, so that an answer to a message that
// completed already (a second answer to a duplicate, a late one after a
// resend) can name a newer message under the same id, which mochi would
// complete. A caller that acts on acknowledgements before this hook asks
// first, and gives mochi Ignored(pk) instead.
func (h *Hook) Stale(cl *mqtt.Client, pk packets.Packet) bool {
	t := pk.FixedHeader.Type
	if (t != packets.Puback && t != packets.Pubrec && t != packets.Pubcomp) || pk.PacketID == 0 || cl.Net.Inline {
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.out[outKey{cl.ID, pk.PacketID}]
	return ok && !answers(e, pk)
}

// answers reports whether the acknowledgement pk can be the answer to the
// message of e (h.mu held): a PUBACK to a QoS 1 PUBLISH, a PUBREC to a
// QoS 2 PUBLISH (or again in its PUBREL phase: mochi resends the PUBREL,
// as Mosquitto does), a PUBCOMP to a PUBREL; and a PUBLISH only once it
// was written to the client, on this connection or an earlier one.
func answers(e *outEntry, pk packets.Packet) bool {
	written := e.sent || e.on != nil
	switch pk.FixedHeader.Type {
	case packets.Puback:
		return e.pk.FixedHeader.Type == packets.Publish && e.pk.FixedHeader.Qos == 1 && written
	case packets.Pubrec:
		return e.pk.FixedHeader.Type == packets.Pubrel ||
			e.pk.FixedHeader.Type == packets.Publish && e.pk.FixedHeader.Qos == 2 && written
	case packets.Pubcomp:
		return e.pk.FixedHeader.Type == packets.Pubrel
	}
	return true
}

// Ignored is what mochi gets instead of a stale acknowledgement: a PUBACK
// for packet id 0, which it ignores.
func Ignored(pk packets.Packet) packets.Packet {
	return packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Puback}, ProtocolVersion: pk.ProtocolVersion}
}

// OnPacketRead is OnPacketReadInPlace on a copy, as mochi would call it.
func (h *Hook) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	err := h.OnPacketReadInPlace(cl, &pk)
	return pk, err
}

// OnPacketEncodeInPlace holds an outgoing QoS 2 PUBLISH or a PUBREL until its
// state is durable, and sends DUP 0 on a message's first delivery.
//
// A QoS 1/2 PUBLISH goes on a connection once: mochi can write a message
// twice (its resend after a takeover and the write queued by a delivery
// meanwhile; a parked message that its resend sent already), and a copy
// after the receiver's PUBREL is a new message to it, one after its
// PUBACK/PUBCOMP answers the next message under the id. A copy of a
// message that is past its PUBLISH (PUBREC came, or it completed) or
// already written on this connection is not written (HookConfig.Omit; a
// session's resend, which an omitted packet would end, writes first: see
// openResend).
func (h *Hook) OnPacketEncodeInPlace(cl *mqtt.Client, pk *packets.Packet) {
	t := pk.FixedHeader.Type
	if (t != packets.Publish && t != packets.Pubrel) || pk.PacketID == 0 || cl.Net.Inline {
		return
	}
	k := outKey{cl.ID, pk.PacketID}
	h.mu.Lock()
	if t == packets.Publish && !pk.FixedHeader.Dup {
		// mochi's resend sets DUP: this is a queued write, which waits
		// for the resend of a session being taken over.
		if ch, ok := h.resending[cl]; ok {
			h.mu.Unlock()
			<-ch
			h.mu.Lock()
		}
	}
	e, ok := h.out[k]
	if t == packets.Publish {
		if !ok || !sameOnWire(e.pk, *pk) || e.on == cl {
			h.mu.Unlock()
			*pk = h.omit(cl)
			return
		}
		e.on = cl
	}
	var tx *Tx
	if ok {
		tx = e.tx
		if t == packets.Publish && !e.sent {
			pk.FixedHeader.Dup = false
		}
	}
	h.mu.Unlock()
	if !ok || tx == nil || (t == packets.Publish && pk.FixedHeader.Qos < 2) {
		return
	}
	if err := h.s.Wait(tx.Seq()); err != nil {
		// Not durable and never will be: send nothing.
		pk.FixedHeader.Type = 0
	}
}

// OnPacketEncode is OnPacketEncodeInPlace on a copy, as mochi would call it.
func (h *Hook) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	h.OnPacketEncodeInPlace(cl, &pk)
	return pk
}

func (h *Hook) OnPacketSent(cl *mqtt.Client, pk packets.Packet, _ []byte) {
	if pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Qos == 0 || cl.Net.Inline {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	e, ok := h.out[outKey{cl.ID, pk.PacketID}]
	if !ok {
		return
	}
	e.sent = true
	if e.unsentRec && e.pk.FixedHeader.Type == packets.Publish {
		// Queued while the client was away and now written: a resend
		// after a restart is a redelivery, DUP 1 [MQTT-3.3.1-1]. Under
		// h.mu, so that a PUBREC's record (OnPacketRead) comes after.
		// Not waited for: a crash before it is durable costs the DUP flag.
		e.unsentRec = false
		b := appendRecord(nil, &outRecord{Order: e.order, Expiry: e.pk.Expiry, Msg: message(cl.ID, e.pk)})
		tx := h.s.Begin()
		tx.Put(outKeyOf(cl.ID, e.order), b)
		tx.Commit()
	}
}

// OnStarted gives the restored messages their order and expiry (mochi's
// loader knows neither).
func (h *Hook) OnStarted() {
	h.restoreRetainedExpiry()
	byClient := map[string]bool{}
	h.mu.Lock()
	for k := range h.out {
		byClient[k.client] = true
	}
	for id := range byClient {
		cl, ok := h.server.Clients.Get(id)
		if !ok {
			continue
		}
		for _, p := range cl.State.Inflight.GetAll(false) {
			if e, ok := h.out[outKey{id, p.PacketID}]; ok {
				p.Expiry = e.pk.Expiry
				cl.State.Inflight.Set(p)
			}
		}
	}
	h.mu.Unlock()
	for id := range byClient {
		if cl, ok := h.server.Clients.Get(id); ok {
			h.renumber(cl)
		}
	}
}

// restoreRetainedExpiry gives the restored retained messages the end of
// their expiry back: mochi's loader keeps the Message Expiry Interval but
// not when it ends, so such a message would never expire after a restart
// and would go out with its whole interval. The end is its arrival plus
// the interval, as mochi reckons it when the message comes.
func (h *Hook) restoreRetainedExpiry() {
	for topic, pk := range h.server.Topics.Retained.GetAll() {
		iv := int64(pk.Properties.MessageExpiryInterval)
		if iv == 0 || pk.Expiry != 0 {
			continue
		}
		if m := h.server.Options.Capabilities.MaximumMessageExpiryInterval; m > 0 && m < iv {
			iv = m
		}
		pk.Expiry = pk.Created + iv
		// mochi expires MQTT 5 messages only; only MQTT 5 sets an expiry.
		pk.ProtocolVersion = 5
		h.server.Topics.Retained.Add(topic, pk)
	}
}

func (h *Hook) StoredClients() ([]storage.Client, error) {
	var v []storage.Client
	err := h.s.Scan([]byte{kClient}, func(_, val []byte) error {
		var c storage.Client
		if err := c.UnmarshalBinary(val); err == nil {
			v = append(v, c)
		}
		return nil
	})
	return v, err
}

func (h *Hook) StoredSubscriptions() ([]storage.Subscription, error) {
	var v []storage.Subscription
	err := h.s.Scan([]byte{kSub}, func(_, val []byte) error {
		var s storage.Subscription
		if err := s.UnmarshalBinary(val); err == nil {
			v = append(v, s)
			if s.RetainAsPublished || s.NoLocal {
				h.keepRetain = append(h.keepRetain, s)
			}
		}
		return nil
	})
	return v, err
}

// restoreKeepRetain gives the restored subscriptions of clients before
// MQTT 5 that have Retain As Published (only a bridge's have it: the
// broker sets it on theirs, such a client cannot ask for it) mochi's
// FwdRetainedFlag, without which mochi clears the retain flag of what it
// delivers to them: its loader knows only MQTT 5's option. A store written
// before the broker kept Retain As Published for a bridge holds No Local
// alone, which such a client cannot ask for either: it counts the same.
// mochi calls StoredInflightMessages after it has loaded the clients and
// subscriptions and before any client can connect, which calls this.
func (h *Hook) restoreKeepRetain() {
	for _, s := range h.keepRetain {
		cl, ok := h.server.Clients.Get(s.Client)
		if !ok || cl.Properties.ProtocolVersion >= 5 {
			continue
		}
		sub := packets.Subscription{
			Filter: s.Filter, Identifier: s.Identifier, RetainHandling: s.RetainHandling, Qos: s.Qos,
			NoLocal: s.NoLocal, RetainAsPublished: true, FwdRetainedFlag: true,
		}
		h.server.Topics.Subscribe(s.Client, sub)
		cl.State.Subscriptions.Add(s.Filter, sub)
	}
	h.keepRetain = nil
}

// StoredInflightMessages returns the messages in flight in arrival order
// and rebuilds the hook's index of them.
func (h *Hook) StoredInflightMessages() ([]storage.Message, error) {
	h.restoreKeepRetain()
	var recs []outRecord
	err := h.s.Scan([]byte{kOut}, func(_, val []byte) error {
		if r, err := parseRecord(val); err == nil {
			recs = append(recs, r)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortFunc(recs, func(a, b outRecord) int {
		switch {
		case a.Order < b.Order:
			return -1
		case a.Order > b.Order:
			return 1
		}
		return 0
	})
	done := durableTx()
	v := make([]storage.Message, 0, len(recs))
	h.mu.Lock()
	for _, r := range recs {
		pk := r.Msg.ToPacket()
		pk.Expiry = r.Expiry
		h.out[outKey{r.Msg.Client, r.Msg.PacketID}] = &outEntry{order: r.Order, pk: pk, sent: !r.Unsent, unsentRec: r.Unsent, tx: done}
		if r.Order > h.order.Load() {
			h.order.Store(r.Order)
		}
		v = append(v, r.Msg)
	}
	h.mu.Unlock()
	return v, nil
}

func (h *Hook) StoredRetainedMessages() ([]storage.Message, error) {
	var v []storage.Message
	err := h.s.Scan([]byte{kRetained}, func(_, val []byte) error {
		var m storage.Message
		if err := m.UnmarshalBinary(val); err == nil {
			v = append(v, m)
		}
		return nil
	})
	return v, err
}

// StoredSysInfo gives mochi's counters of what was restored.
func (h *Hook) StoredSysInfo() (storage.SystemInfo, error) {
	var info system.Info
	count := func(kind byte) int64 {
		var n int64
		_ = h.s.Scan([]byte{kind}, func(_, _ []byte) error { n++; return nil })
		return n
	}
	info.Retained = count(kRetained)
	info.Subscriptions = count(kSub)
	info.Inflight = count(kOut)
	return storage.SystemInfo{Info: info, T: storage.SysInfoKey, ID: storage.SysInfoKey}, nil
}
