package broker

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/mochi-mqtt/server/v2/system"

	"mqtls/internal/hookset"
)

// hookLoop is all the broker's hooks as one mochi hook. For every event of
// every packet mochi asks each hook it holds whether it provides the event
// (an interface call per hook: a dozen and a half hooks, nine events per
// QoS 0 message), and copies the 800-byte packet into each that does.
// hookLoop answers mochi once per event, and runs the event over the hooks
// that provide it, listed when they were added, in the order they were
// added, with mochi's own rule for each event (the first error of
// OnConnect ends it, the first yes of OnACLCheck, ...). The hooks on the
// per-message path that are ours are called on the packet it holds
// (packetHooks, publishHooks, the backpressure and queue hooks), so that
// no event copies the packet more often than mochi's own loop would.
type hookLoop struct {
	mqtt.HookBase
	srv *mqtt.Server
	mu  sync.Mutex // held by add
	tab atomic.Pointer[hookTable]
}

// hookTable is what hookLoop runs: replaced whole by add, never changed.
type hookTable struct {
	all    []mqtt.Hook
	events hookset.Set
	by     [64][]mqtt.Hook // by[e]: the hooks that provide event e, in order
}

var _ mqtt.Hook = (*hookLoop)(nil)

func newHookLoop(s *mqtt.Server) *hookLoop {
	l := &hookLoop{srv: s}
	l.tab.Store(new(hookTable))
	return l
}

func (l *hookLoop) ID() string { return "mqtls" }

func (l *hookLoop) Provides(b byte) bool { return l.tab.Load().events.Has(b) }

// add does for h what mochi's AddHook does (its options, its log line,
// Init with config) and appends it to the loop. The events h provides are
// asked once, after Init (the store hook's depend on its configuration).
func (l *hookLoop) add(h mqtt.Hook, config any) error {
	s := l.srv
	h.SetOpts(s.Log.With("hook", h.ID()), &mqtt.HookOptions{Capabilities: s.Options.Capabilities})
	s.Log.Info("added hook", "hook", h.ID())
	if err := h.Init(config); err != nil {
		return fmt.Errorf("failed initialising %s hook: %w", h.ID(), err)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	old := l.tab.Load()
	t := &hookTable{all: append(slices.Clip(old.all), h), events: old.events}
	for e := range t.by {
		t.by[e] = slices.Clip(old.by[e])
		if h.Provides(byte(e)) {
			t.by[e] = append(t.by[e], h)
			t.events |= hookset.Of(byte(e))
		}
	}
	l.tab.Store(t)
	return nil
}

func (l *hookLoop) hooks(e byte) []mqtt.Hook { return l.tab.Load().by[e] }

// Stop stops every hook, as mochi's Hooks.Stop does.
func (l *hookLoop) Stop() error {
	for _, h := range l.tab.Load().all {
		l.srv.Log.Info("stopping hook", "hook", h.ID())
		if err := h.Stop(); err != nil {
			l.srv.Log.Debug("problem stopping hook", "error", err, "hook", h.ID())
		}
	}
	return nil
}

func (l *hookLoop) OnStarted() {
	for _, h := range l.hooks(mqtt.OnStarted) {
		h.OnStarted()
	}
}

func (l *hookLoop) OnStopped() {
	for _, h := range l.hooks(mqtt.OnStopped) {
		h.OnStopped()
	}
}

func (l *hookLoop) OnSysInfoTick(sys *system.Info) {
	for _, h := range l.hooks(mqtt.OnSysInfoTick) {
		h.OnSysInfoTick(sys)
	}
}

func (l *hookLoop) OnConnectAuthenticate(cl *mqtt.Client, pk packets.Packet) bool {
	for _, h := range l.hooks(mqtt.OnConnectAuthenticate) {
		if h.OnConnectAuthenticate(cl, pk) {
			return true
		}
	}
	return false
}

func (l *hookLoop) OnACLCheck(cl *mqtt.Client, topic string, write bool) bool {
	for _, h := range l.hooks(mqtt.OnACLCheck) {
		if h.OnACLCheck(cl, topic, write) {
			return true
		}
	}
	return false
}

func (l *hookLoop) OnConnect(cl *mqtt.Client, pk packets.Packet) error {
	for _, h := range l.hooks(mqtt.OnConnect) {
		if err := h.OnConnect(cl, pk); err != nil {
			return err
		}
	}
	return nil
}

func (l *hookLoop) OnSessionEstablish(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnSessionEstablish) {
		h.OnSessionEstablish(cl, pk)
	}
}

func (l *hookLoop) OnSessionEstablished(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnSessionEstablished) {
		h.OnSessionEstablished(cl, pk)
	}
}

func (l *hookLoop) OnDisconnect(cl *mqtt.Client, err error, expire bool) {
	for _, h := range l.hooks(mqtt.OnDisconnect) {
		h.OnDisconnect(cl, err, expire)
	}
}

func (l *hookLoop) OnAuthPacket(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	pkx := pk
	for _, h := range l.hooks(mqtt.OnAuthPacket) {
		npk, err := h.OnAuthPacket(cl, pkx)
		if err != nil {
			return pk, err
		}
		pkx = npk
	}
	return pkx, nil
}

// OnPacketRead works on pk, mochi's copy: on a refusal mochi goes on with
// the packet as it was read, whatever the hook returns.
func (l *hookLoop) OnPacketRead(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	for _, h := range l.hooks(mqtt.OnPacketRead) {
		if p, ok := h.(*packetHooks); ok {
			if err := p.readPacket(cl, &pk); err != nil {
				return pk, err
			}
			continue
		}
		npk, err := h.OnPacketRead(cl, pk)
		if err != nil {
			if errors.Is(err, packets.ErrRejectPacket) {
				return pk, err
			}
			continue
		}
		pk = npk
	}
	return pk, nil
}

func (l *hookLoop) OnPacketEncode(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for _, h := range l.hooks(mqtt.OnPacketEncode) {
		if p, ok := h.(*packetHooks); ok {
			p.encodePacket(cl, &pk)
			continue
		}
		pk = h.OnPacketEncode(cl, pk)
	}
	return pk
}

func (l *hookLoop) OnPacketSent(cl *mqtt.Client, pk packets.Packet, b []byte) {
	for _, h := range l.hooks(mqtt.OnPacketSent) {
		h.OnPacketSent(cl, pk, b)
	}
}

func (l *hookLoop) OnPacketProcessed(cl *mqtt.Client, pk packets.Packet, err error) {
	for _, h := range l.hooks(mqtt.OnPacketProcessed) {
		h.OnPacketProcessed(cl, pk, err)
	}
}

func (l *hookLoop) OnSubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for _, h := range l.hooks(mqtt.OnSubscribe) {
		pk = h.OnSubscribe(cl, pk)
	}
	return pk
}

func (l *hookLoop) OnSubscribed(cl *mqtt.Client, pk packets.Packet, reasonCodes []byte) {
	for _, h := range l.hooks(mqtt.OnSubscribed) {
		h.OnSubscribed(cl, pk, reasonCodes)
	}
}

func (l *hookLoop) OnSelectSubscribers(subs *mqtt.Subscribers, pk packets.Packet) *mqtt.Subscribers {
	for _, h := range l.hooks(mqtt.OnSelectSubscribers) {
		subs = h.OnSelectSubscribers(subs, pk)
	}
	return subs
}

func (l *hookLoop) OnUnsubscribe(cl *mqtt.Client, pk packets.Packet) packets.Packet {
	for _, h := range l.hooks(mqtt.OnUnsubscribe) {
		pk = h.OnUnsubscribe(cl, pk)
	}
	return pk
}

func (l *hookLoop) OnUnsubscribed(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnUnsubscribed) {
		h.OnUnsubscribed(cl, pk)
	}
}

// OnPublish works on pk, mochi's copy: on an error mochi goes on with the
// packet as it came, and logs the error with this hook's ID.
func (l *hookLoop) OnPublish(cl *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	for _, h := range l.hooks(mqtt.OnPublish) {
		if p, ok := h.(*publishHooks); ok {
			if err := p.judge(cl, &pk); err != nil {
				return pk, err
			}
			continue
		}
		npk, err := h.OnPublish(cl, pk)
		if err != nil {
			return pk, err
		}
		pk = npk
	}
	return pk, nil
}

func (l *hookLoop) OnPublished(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnPublished) {
		if q, ok := h.(*queueHook); ok {
			q.published()
			continue
		}
		h.OnPublished(cl, pk)
	}
}

func (l *hookLoop) OnPublishDropped(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnPublishDropped) {
		h.OnPublishDropped(cl, pk)
	}
}

func (l *hookLoop) OnRetainMessage(cl *mqtt.Client, pk packets.Packet, r int64) {
	for _, h := range l.hooks(mqtt.OnRetainMessage) {
		h.OnRetainMessage(cl, pk, r)
	}
}

func (l *hookLoop) OnRetainPublished(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnRetainPublished) {
		h.OnRetainPublished(cl, pk)
	}
}

func (l *hookLoop) OnQosPublish(cl *mqtt.Client, pk packets.Packet, sent int64, resends int) {
	for _, h := range l.hooks(mqtt.OnQosPublish) {
		if b, ok := h.(*backpressureHook); ok {
			b.qosPublish(cl, &pk)
			continue
		}
		h.OnQosPublish(cl, pk, sent, resends)
	}
}

func (l *hookLoop) OnQosComplete(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnQosComplete) {
		if b, ok := h.(*backpressureHook); ok {
			b.progress(cl)
			continue
		}
		h.OnQosComplete(cl, pk)
	}
}

func (l *hookLoop) OnQosDropped(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnQosDropped) {
		if b, ok := h.(*backpressureHook); ok {
			b.progress(cl)
			continue
		}
		h.OnQosDropped(cl, pk)
	}
}

func (l *hookLoop) OnPacketIDExhausted(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnPacketIDExhausted) {
		h.OnPacketIDExhausted(cl, pk)
	}
}

// OnWill skips a hook that fails, as mochi's loop does (and logs it).
func (l *hookLoop) OnWill(cl *mqtt.Client, will mqtt.Will) (mqtt.Will, error) {
	for _, h := range l.hooks(mqtt.OnWill) {
		w, err := h.OnWill(cl, will)
		if err != nil {
			l.srv.Log.Error("parse will error", "error", err, "hook", h.ID(), "will", will)
			continue
		}
		will = w
	}
	return will, nil
}

func (l *hookLoop) OnWillSent(cl *mqtt.Client, pk packets.Packet) {
	for _, h := range l.hooks(mqtt.OnWillSent) {
		h.OnWillSent(cl, pk)
	}
}

func (l *hookLoop) OnClientExpired(cl *mqtt.Client) {
	for _, h := range l.hooks(mqtt.OnClientExpired) {
		h.OnClientExpired(cl)
	}
}

func (l *hookLoop) OnRetainedExpired(filter string) {
	for _, h := range l.hooks(mqtt.OnRetainedExpired) {
		h.OnRetainedExpired(filter)
	}
}

// The stored data come from the first hook that has some, as in mochi's
// loops; an error ends the loop (mochi logs it).

func (l *hookLoop) StoredClients() ([]storage.Client, error) {
	for _, h := range l.hooks(mqtt.StoredClients) {
		if v, err := h.StoredClients(); err != nil || len(v) > 0 {
			return v, err
		}
	}
	return nil, nil
}

func (l *hookLoop) StoredSubscriptions() ([]storage.Subscription, error) {
	for _, h := range l.hooks(mqtt.StoredSubscriptions) {
		if v, err := h.StoredSubscriptions(); err != nil || len(v) > 0 {
			return v, err
		}
	}
	return nil, nil
}

func (l *hookLoop) StoredInflightMessages() ([]storage.Message, error) {
	for _, h := range l.hooks(mqtt.StoredInflightMessages) {
		if v, err := h.StoredInflightMessages(); err != nil || len(v) > 0 {
			return v, err
		}
	}
	return nil, nil
}

func (l *hookLoop) StoredRetainedMessages() ([]storage.Message, error) {
	for _, h := range l.hooks(mqtt.StoredRetainedMessages) {
		if v, err := h.StoredRetainedMessages(); err != nil || len(v) > 0 {
			return v, err
		}
	}
	return nil, nil
}

func (l *hookLoop) StoredSysInfo() (storage.SystemInfo, error) {
	for _, h := range l.hooks(mqtt.StoredSysInfo) {
		if v, err := h.StoredSysInfo(); err != nil || v.Version != "" {
			return v, err
		}
	}
	return storage.SystemInfo{}, nil
}
