package store

import (
	"log/slog"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/hookset"
	"mqtls/internal/testutil"
)

// expiryRaceHook runs before the store hook: when mochi expires the armed
// session, it first lets a new connection take the client id over (mochi
// takes the session list's copy, then expires what it holds: a client
// connecting in between resumes the session that is being expired).
type expiryRaceHook struct {
	mqtt.HookBase
	armed    atomic.Bool
	takeover func() // connects the new client, returns after its CONNACK
	done     chan struct{}
}

func (h *expiryRaceHook) ID() string           { return "expiry-race" }
func (h *expiryRaceHook) Provides(b byte) bool { return hookset.Of(mqtt.OnClientExpired).Has(b) }
func (h *expiryRaceHook) Init(any) error       { return nil }

func (h *expiryRaceHook) OnClientExpired(cl *mqtt.Client) {
	if cl.ID == "c" && h.armed.CompareAndSwap(true, false) {
		h.takeover()
		close(h.done)
	}
}

// TestExpiryEndsATakeoverOfIt: mochi expires a session while a new
// connection takes its client id over. The new connection resumed a
// session that mochi then deletes from its list and the store deletes
// (its client record, subscriptions and the QoS 2 packet ids it awaits
// PUBREL for): it is closed, and its reconnect gets a new session that
// the broker and the store agree on, instead of running on as a session
// that no one keeps (unreachable by publishes, lost by a restart).
func TestExpiryEndsATakeoverOfIt(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := open(t, dir, SyncBatch)
	defer s.Close()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	race := &expiryRaceHook{done: make(chan struct{})}
	h := new(Hook)
	for _, hk := range []struct {
		h   mqtt.Hook
		cfg any
	}{{new(auth.AllowHook), nil}, {race, nil}, {h, &HookConfig{Store: s, Server: srv}}} {
		if err := srv.AddHook(hk.h, hk.cfg); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()

	short := connectPk("c", true)
	short.Properties.SessionExpiryInterval = 1
	c := dialPipe(t, srv, short)
	c.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "t", Qos: 2}}})
	if sa := c.next(t); sa.FixedHeader.Type != packets.Suback {
		t.Fatalf("got packet type %d, want SUBACK", sa.FixedHeader.Type)
	}
	var next *pipeClient
	race.takeover = func() {
		next = dialPipe(t, srv, connectPk("c", false))
		h.AddInbound(durable, "c", 7) // the resumed session awaits a PUBREL for id 7
	}
	race.armed.Store(true)
	c.c.Close()
	for range c.in {
	}
	select {
	case <-race.done:
	case <-time.After(10 * time.Second):
		t.Fatal("the session did not expire within 10s")
	}
	defer next.c.Close()
	closed := time.After(10 * time.Second)
	for open := true; open; {
		select {
		case _, open = <-next.in:
		case <-closed:
			t.Fatal("the connection that resumed the expired session is still open after 10s")
		}
	}
	testutil.WaitFor(t, 10*time.Second, "mochi to delete the expired session", func() bool {
		_, ok := srv.Clients.Get("c")
		return !ok
	})

	again := dialPipe(t, srv, connectPk("c", false))
	defer again.c.Close()
	if again.connack.SessionPresent {
		t.Error("the reconnect resumed the expired session")
	}
	// Every write queued before this one is on disk after it.
	tx := s.Begin()
	tx.Put([]byte("zz-barrier"), nil)
	if err := s.Wait(tx.Commit()); err != nil {
		t.Fatal(err)
	}
	if subs := keys(t, s, string(clientPart(kSub, "c"))); len(subs) != 0 {
		t.Errorf("the expired session's subscription is still stored (a restart brings it back): %q", subs)
	}
	if _, ok := h.HasInbound("c", 7); ok {
		t.Error("the expired session's QoS 2 packet id awaiting PUBREL is still held")
	}
}
