package broker

import (
	"testing"

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
	if c.MaximumInflight != 1000 || c.RetainAvailable != 1 {
		t.Errorf("defaults: inflight %d retain %d", c.MaximumInflight, c.RetainAvailable)
	}
	cfg := conf.New()
	cfg.MaxPacketSize, cfg.MaxInflightMessages, cfg.MaxQueuedMessages, cfg.RetainAvailable = 4096, 0, 0, false
	c = capabilities(cfg)
	if c.MaximumPacketSize != 4096 || c.ReceiveMaximum != 65535 || c.MaximumInflight != 65535 || c.RetainAvailable != 0 {
		t.Errorf("configured: %+v", c)
	}
}
