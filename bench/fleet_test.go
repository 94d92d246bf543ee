package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/client"
	"mqtls/internal/testutil"
)

// Fleet runs at small scale against real brokers: counts only, never speed.

func TestFleetCountsEveryMessage(t *testing.T) {
	t.Parallel()
	url, pid := plainMosquitto(t)
	res, err := Fleet(context.Background(), FleetOptions{
		Target: Target{URL: url}, Clients: 50, Interval: 500 * time.Millisecond, Duration: 3 * time.Second,
		QoS: 1, Subscribers: 2, PID: pid,
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Sent != 50*6 || res.Accepted != res.Sent || res.Received != res.Sent {
		t.Fatalf("50 devices, 6 slots each: sent %d, accepted %d, received %d", res.Sent, res.Accepted, res.Received)
	}
	if res.Lost != 0 || res.Duplicates != 0 || res.Disconnects != 0 || res.Skipped != 0 || res.Foreign != 0 {
		t.Fatalf("a clean run: %+v", res)
	}
	if res.Latency.Count != res.Received || res.Latency.P50 <= 0 {
		t.Fatalf("latency of every message: %+v", res.Latency)
	}
	if b := res.Broker; b == nil || b.PID != pid || b.RSSConnected <= 0 || b.RSSPeak < b.RSSConnected || b.RSSHighWater < b.RSSPeak {
		t.Fatalf("broker measurement: %+v", res.Broker)
	}
	var out strings.Builder
	if err := res.WriteTable(&out); err != nil {
		t.Fatal(err)
	}
	flat := strings.Join(strings.Fields(out.String()), " ")
	for _, want := range []string{"50 devices", "2 subscribers", "lost 0 of 300 accepted", "disconnects 0"} {
		if !strings.Contains(flat, want) {
			t.Errorf("table lacks %q:\n%s", want, out.String())
		}
	}
}

// TestFleetReportsLostMessages: Mosquitto acknowledges a publish its
// acl_file denies and delivers it to nobody, so device 7's messages are
// accepted and lost; the run must say so, and name one device.
func TestFleetReportsLostMessages(t *testing.T) {
	t.Parallel()
	acl := filepath.Join(t.TempDir(), "acl")
	if err := os.WriteFile(acl, []byte("topic readwrite bench/#\ntopic deny bench/lossy/0/7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	port := testutil.FreePort(t)
	testutil.Mosquitto(t, port, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nacl_file %s\n", port, acl))
	res, err := Fleet(context.Background(), FleetOptions{
		Target: Target{URL: "tcp://" + testutil.Addr(port)}, Clients: 10, Interval: 200 * time.Millisecond,
		Duration: time.Second, QoS: 1, Subscribers: 1, runID: "lossy",
	})
	if err == nil || !strings.Contains(err.Error(), "5 accepted messages lost") {
		t.Fatalf("want the loss as an error, got %v", err)
	}
	if res.Accepted != 50 || res.Lost != 5 || res.LosingClients != 1 || res.Received != 45 {
		t.Fatalf("device 7's 5 messages: accepted %d, lost %d by %d devices, received %d", res.Accepted, res.Lost, res.LosingClients, res.Received)
	}
}

// TestFleetCountsDisconnects: a second client with device 3's id makes
// Mosquitto end device 3's connection (session takeover); the run counts the
// disconnect, reconnects the device and reports it.
func TestFleetCountsDisconnects(t *testing.T) {
	t.Parallel()
	url, _ := plainMosquitto(t)
	var once sync.Once
	var takeErr error
	res, err := Fleet(context.Background(), FleetOptions{
		Target: Target{URL: url}, Clients: 5, Interval: 200 * time.Millisecond, Duration: 3 * time.Second,
		QoS: 1, runID: "kick",
		Progress: func(p Progress) {
			if p.Mode != "fleet" {
				return
			}
			once.Do(func() {
				o := client.Options{Version: client.V311, ClientID: "bench-kick-d3"}
				if _, takeErr = o.ApplyURL("mqtt://" + strings.TrimPrefix(url, "tcp://")); takeErr != nil {
					return
				}
				c, err := client.Connect(context.Background(), o)
				if err != nil {
					takeErr = err
					return
				}
				c.Close()
			})
		},
	})
	if takeErr != nil {
		t.Fatal(takeErr)
	}
	if err == nil || !strings.Contains(err.Error(), "disconnects") {
		t.Fatalf("want the disconnect as an error, got %v", err)
	}
	if res.Disconnects != 1 || res.Reconnects != 1 {
		t.Fatalf("one takeover: disconnects %d, reconnects %d", res.Disconnects, res.Reconnects)
	}
	if res.Lost != 0 {
		t.Fatalf("accepted messages lost after a reconnect: %d", res.Lost)
	}
}

// TestFleetTally checks the counting itself on hand-made deliveries: a
// duplicate, a message of no device of the run, one never received.
func TestFleetTally(t *testing.T) {
	f := &fleet{o: &FleetOptions{Subscribers: 1}, slots: 3, base: time.Now(), devs: make([]device, 2)}
	for i := range f.devs {
		f.devs[i].accepted, f.devs[i].got = newBitset(3), newBitset(3)
		for k := range 3 {
			f.devs[i].accepted.set(k)
		}
	}
	f.recs, f.recMu = []*recorder{newRecorder(10)}, make([]sync.Mutex, 1)
	f.sent.Store(7) // one publish was not acknowledged
	msg := func(seq, dev uint32) client.Message {
		p := make([]byte, 16)
		binary.LittleEndian.PutUint64(p, uint64(time.Since(f.base)))
		binary.LittleEndian.PutUint32(p[8:], seq)
		binary.LittleEndian.PutUint32(p[12:], dev)
		return client.Message{Payload: p}
	}
	h := f.handler(0)
	for _, m := range []client.Message{msg(0, 0), msg(1, 0), msg(2, 0), msg(1, 0), msg(0, 1), msg(2, 1), msg(0, 2), msg(3, 0), {Payload: []byte("short")}} {
		h(m)
	}
	var res FleetResult
	f.tally(&res)
	want := FleetResult{Sent: 7, Accepted: 6, Unacked: 1, Received: 5, Duplicates: 1, Foreign: 3, Lost: 1, LosingClients: 1}
	if res != want {
		t.Fatalf("tally:\n got %+v\nwant %+v", res, want)
	}
}
