package store

import (
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/storage"
)

// TestRestoreKeepsRetainOfBridges: a store written before the broker kept
// Retain As Published for a bridge's subscription (an MQTT 3.1.1 session
// whose subscription has No Local alone, as the earlier version wrote it)
// still loads, and its subscription keeps the retain flag of what it
// delivers, as one written now does; an ordinary 3.1.1 subscription and
// an MQTT 5 one with Retain As Published load as they were stored.
func TestRestoreKeepsRetainOfBridges(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := open(t, dir, SyncBatch)
	tx := s.Begin()
	client := func(id string, ver byte) {
		c := storage.Client{ID: id, T: storage.ClientKey, ProtocolVersion: ver}
		c.Properties.SessionExpiryInterval, c.Properties.SessionExpiryIntervalFlag = 3600, true
		b, _ := c.MarshalBinary()
		tx.Put(clientPart(kClient, id), b)
	}
	sub := func(sb storage.Subscription) {
		sb.T = storage.SubscriptionKey
		b, _ := sb.MarshalBinary()
		tx.Put(append(clientPart(kSub, sb.Client), sb.Filter...), b)
	}
	client("oldbridge", 4)
	sub(storage.Subscription{Client: "oldbridge", Filter: "a/#", Qos: 1, NoLocal: true})
	client("newbridge", 4)
	sub(storage.Subscription{Client: "newbridge", Filter: "$share/g/a/#", Qos: 1, RetainAsPublished: true})
	client("plain", 4)
	sub(storage.Subscription{Client: "plain", Filter: "a/#", Qos: 1})
	client("v5", 5)
	sub(storage.Subscription{Client: "v5", Filter: "a/#", Qos: 2, RetainAsPublished: true, Identifier: 3})
	if err := s.Wait(tx.Commit()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, SyncBatch)
	defer s.Close()
	srv := mqtt.New(nil)
	if err := srv.AddHook(new(Hook), &HookConfig{Store: s, Server: srv}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	subs := srv.Topics.Subscribers("a/x")
	for id, want := range map[string]bool{"oldbridge": true, "plain": false, "v5": false} {
		got, ok := subs.Subscriptions[id]
		if !ok {
			t.Errorf("%s: subscription a/# not restored", id)
			continue
		}
		if got.FwdRetainedFlag != want {
			t.Errorf("%s: restored with FwdRetainedFlag %v, want %v", id, got.FwdRetainedFlag, want)
		}
		cl, ok := srv.Clients.Get(id)
		if !ok {
			t.Errorf("%s: session not restored", id)
		} else if cs, _ := cl.State.Subscriptions.Get("a/#"); cs.FwdRetainedFlag != want {
			t.Errorf("%s: the session's subscription has FwdRetainedFlag %v, want %v", id, cs.FwdRetainedFlag, want)
		}
	}
	if v5 := subs.Subscriptions["v5"]; !v5.RetainAsPublished || v5.Qos != 2 || v5.Identifier != 3 {
		t.Errorf("v5 restored as %+v, want retain as published, qos 2, identifier 3", v5)
	}
	if g := subs.Shared["$share/g/a/#"]["newbridge"]; !g.FwdRetainedFlag || g.Qos != 1 {
		t.Errorf("newbridge's shared subscription restored as %+v, want FwdRetainedFlag and qos 1", g)
	}
}
