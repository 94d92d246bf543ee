package broker

import (
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"

	"mqtls/conf"
)

func TestCapabilities(t *testing.T) {
	c := capabilities(conf.New())
	if c.MaximumPacketSize != DefaultMaxPacketSize {
		t.Errorf("default packet size %d", c.MaximumPacketSize)
	}
	// mochi's default (86400) deletes retained and queued messages after a day.
	if c.MaximumMessageExpiryInterval != 0 {
		t.Errorf("message expiry %d, want 0 (no forced expiry)", c.MaximumMessageExpiryInterval)
	}
	// A client's unacknowledged messages, and its write queue, are bounded
	// by max_queued_messages beside the 20 of max_inflight_messages.
	if c.MaximumInflight != 1020 || c.MaximumClientWritesPending != 1020 || c.RetainAvailable != 1 {
		t.Errorf("defaults: inflight %d writes pending %d retain %d", c.MaximumInflight, c.MaximumClientWritesPending, c.RetainAvailable)
	}
	cfg := conf.New()
	cfg.MaxPacketSize, cfg.MaxInflightMessages, cfg.MaxQueuedMessages, cfg.RetainAvailable = 4096, 0, 0, false
	c = capabilities(cfg)
	if c.MaximumPacketSize != 4096 || c.ReceiveMaximum != 65535 || c.MaximumInflight != 65535 || c.MaximumClientWritesPending != 8192 || c.RetainAvailable != 0 {
		t.Errorf("configured: %+v", c)
	}
}

// TestNoSecondAuthHook: mochi allows an action when any hook says yes, so a
// hook that answers auth or ACL checks (mochi's AllowHook) is refused.
func TestNoSecondAuthHook(t *testing.T) {
	cfg, err := conf.Parse("x.conf", []byte("listener 1 127.0.0.1\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = New(cfg, nil, Options{Hooks: []mqtt.Hook{new(auth.AllowHook)}})
	if err == nil || !strings.Contains(err.Error(), "hook allow-all-auth answers authentication or ACL checks") {
		t.Fatalf("New with AllowHook: %v", err)
	}
}
