package store

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/internal/testutil"
)

func serveStore(t *testing.T, s *Store) *mqtt.Server {
	t.Helper()
	srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.DiscardHandler)})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	if err := srv.AddHook(new(Hook), &HookConfig{Store: s, Server: srv}); err != nil {
		t.Fatal(err)
	}
	if err := srv.Serve(); err != nil {
		t.Fatal(err)
	}
	return srv
}

// TestQueuedThenSentIsResentAsDuplicate: a message queued for a session
// while its client was away is stored as never sent (its first delivery
// carries DUP 0); once it is written, a restart resends it with DUP 1
// [MQTT-3.3.1-1]: the client may have it already.
func TestQueuedThenSentIsResentAsDuplicate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "db")
	s := open(t, dir, SyncBatch)
	srv := serveStore(t, s)

	d := dialPipe(t, srv, connectPk("d", true))
	d.send(t, packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Subscribe, Qos: 1}, PacketID: 1,
		Filters: packets.Subscriptions{{Filter: "t", Qos: 1}}})
	if sa := d.next(t); sa.FixedHeader.Type != packets.Suback {
		t.Fatalf("got packet type %d, want SUBACK", sa.FixedHeader.Type)
	}
	d.c.Close()
	for range d.in {
	}
	testutil.WaitFor(t, 10*time.Second, "the broker to see the client gone", func() bool {
		cl, ok := srv.Clients.Get("d")
		return ok && cl.Closed()
	})
	if err := srv.Publish("t", []byte("m1"), false, 1); err != nil {
		t.Fatal(err)
	}
	unsent := func() []bool {
		var v []bool
		_ = s.Scan(clientPart(kOut, "d"), func(_, val []byte) error {
			r, err := parseRecord(val)
			if err != nil {
				t.Errorf("record: %v", err)
			}
			v = append(v, r.Unsent)
			return nil
		})
		return v
	}
	testutil.WaitFor(t, 10*time.Second, "the queued message on disk", func() bool { return len(unsent()) == 1 })
	if u := unsent(); !u[0] {
		t.Fatalf("a message queued for an absent client is stored as sent")
	}

	d = dialPipe(t, srv, connectPk("d", false))
	if pk := d.next(t); pk.FixedHeader.Type != packets.Publish || pk.FixedHeader.Dup {
		t.Fatalf("first delivery: got type %d dup %v, want a PUBLISH with DUP 0", pk.FixedHeader.Type, pk.FixedHeader.Dup)
	}
	testutil.WaitFor(t, 10*time.Second, "the record to say sent", func() bool {
		u := unsent()
		return len(u) == 1 && !u[0]
	})
	d.c.Close()
	srv.Close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, dir, SyncBatch)
	defer s.Close()
	srv = serveStore(t, s)
	defer srv.Close()
	d = dialPipe(t, srv, connectPk("d", false))
	defer d.c.Close()
	if pk := d.next(t); pk.FixedHeader.Type != packets.Publish || !pk.FixedHeader.Dup || string(pk.Payload) != "m1" {
		t.Fatalf("after a restart: got type %d dup %v %q, want the PUBLISH of m1 with DUP 1", pk.FixedHeader.Type, pk.FixedHeader.Dup, pk.Payload)
	}
}
