package inspector

import (
	"strings"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// dropHook is a broker hook that drops publishes the way mochi lets hooks
// do it: "blocked/..." with ErrRejectPacket, "ignored/..." with
// CodeSuccessIgnore (acknowledged, not delivered), for every client.
type dropHook struct{ mqtt.HookBase }

func (dropHook) ID() string           { return "drop" }
func (dropHook) Provides(b byte) bool { return b == mqtt.OnPublish }
func (dropHook) OnPublish(_ *mqtt.Client, pk packets.Packet) (packets.Packet, error) {
	switch {
	case strings.HasPrefix(pk.TopicName, "blocked/"):
		return pk, packets.ErrRejectPacket
	case strings.HasPrefix(pk.TopicName, "ignored/"):
		return pk, packets.CodeSuccessIgnore
	}
	return pk, nil
}

// TestPagePublishDroppedByAHook: when another hook drops a publish from the
// page, the page says so instead of "published", and a clear that was
// dropped is reported as not done.
func TestPagePublishDroppedByAHook(t *testing.T) {
	p := newPage(t, nil, Options{})
	if err := p.srv.AddHook(new(dropHook), nil); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"blocked/a", "ignored/a"} {
		code, body := p.do("POST", "/api/publish", `{"topic":"`+name+`","payload":"x","retain":true}`, nil)
		if code != 403 || !strings.Contains(body, "the broker dropped the publish to "+name) {
			t.Errorf("publish to %s: %d %s, want 403 saying it was dropped", name, code, body)
		}
		if _, ok := p.srv.Topics.Retained.Get(name); ok {
			t.Errorf("%s: a dropped publish was retained", name)
		}
	}
	for _, qos := range []string{"0", "1", "2"} {
		if code, body := p.do("POST", "/api/publish", `{"topic":"lab/a","payload":"x","retain":true,"qos":`+qos+`}`, nil); code != 200 || !strings.Contains(body, `"published":"lab/a"`) {
			t.Errorf("publish at QoS %s: %d %s", qos, code, body)
		}
	}
	// the tap holds a retained message on blocked/a (restored or from
	// before the hook): clearing it through the page is dropped too
	p.srv.Topics.RetainMessage(packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Retain: true}, TopicName: "blocked/b", Payload: []byte("old")})
	if code, body := p.do("POST", "/api/clear", `{"topic":"blocked/b"}`, nil); code != 403 || !strings.Contains(body, "dropped the clear of blocked/b") {
		t.Errorf("clear of a blocked topic: %d %s", code, body)
	}
	if code, body := p.do("POST", "/api/clear", `{"topic":"lab/a"}`, nil); code != 200 || !strings.Contains(body, `"cleared":["lab/a"]`) {
		t.Errorf("clear: %d %s", code, body)
	}
}
