package broker

import (
	"io"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// TestWillTakeoverBeforeMarked: mochi closes a taken-over connection
// (inheritClientSession's DisconnectClient) before it marks the old client
// taken over, and the old connection's reader can reach OnDisconnect in
// between. What becomes of the will must not depend on which goroutine
// wins: a newcomer that resumes the session keeps it unpublished, one that
// starts clean has it published at once, even with a will delay. The
// differential scenarios will-takeover-persistent-v5 and
// will-takeover-clean-v5 failed now and then under load for this.
func TestWillTakeoverBeforeMarked(t *testing.T) {
	for _, c := range []struct {
		name        string
		clean       bool
		delay       uint32
		wantPublish bool
	}{
		{"resumed", false, 0, false},
		{"resumed-delayed", false, 30, false},
		{"clean", true, 0, true},
		{"clean-delayed", true, 30, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			s := mqtt.New(nil)
			h := newWillHook(s)
			old := s.NewClient(nil, "t", "dev1", false)
			old.Properties.ProtocolVersion = 5
			old.Properties.Props.SessionExpiryInterval = 60
			old.Properties.Will = mqtt.Will{Flag: 1, TopicName: "w", Payload: []byte("gone"), WillDelayInterval: c.delay}
			s.Clients.Add(old)
			h.OnSessionEstablished(old, packets.Packet{Connect: packets.ConnectParams{WillFlag: true}})
			newcomer := s.NewClient(nil, "t", "dev1", false)
			h.OnSessionEstablish(newcomer, packets.Packet{Connect: packets.ConnectParams{Clean: c.clean}})
			// The old reader ends here, old.IsTakenOver() still false.
			old.Stop(io.EOF)
			pk := h.schedule(old, io.EOF)
			if got := pk != nil; got != c.wantPublish {
				t.Errorf("will published at once: %v, want %v", got, c.wantPublish)
			}
			h.mu.Lock()
			defer h.mu.Unlock()
			if len(h.delayed) != 0 {
				t.Errorf("will left waiting for its delay")
			}
			if len(h.takenOver) != 0 || len(h.wills) != 0 {
				t.Errorf("state left behind: %d takeovers, %d wills", len(h.takenOver), len(h.wills))
			}
		})
	}
}
