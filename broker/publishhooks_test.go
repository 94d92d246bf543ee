package broker

import (
	"reflect"
	"strings"
	"testing"
	"unsafe"

	mqtt "github.com/mochi-mqtt/server/v2"
)

// TestOnePublishHook: mochi copies the 800-byte packet in and out of every
// hook that provides OnPublish, for every QoS 0 message and every
// delivery, so our hooks that only judge a publish (access control,
// max_retained_bytes, message_size_limit) are one hook in the hook loop,
// and the loop is mochi's only hook of ours.
func TestOnePublishHook(t *testing.T) {
	br := unstartedBroker(t, []byte("listener 1 127.0.0.1\nallow_anonymous true\nmax_retained_bytes 1000\nmessage_size_limit 100\n"))
	if br.retained == nil {
		t.Fatal("no retained hook with max_retained_bytes")
	}
	// mochi keeps its hooks unexported.
	hooks := (*mqtt.Hooks)(unsafe.Pointer(reflect.ValueOf(br.server).Elem().FieldByName("hooks").Pointer()))
	var ours []string
	for _, h := range hooks.GetAll() {
		if strings.HasPrefix(h.ID(), "mqtls") {
			ours = append(ours, h.ID())
		}
	}
	if len(ours) != 1 || ours[0] != br.loop.ID() {
		t.Fatalf("our hooks in mochi: %v, want only the hook loop", ours)
	}
	var publish []string
	for _, h := range br.loop.hooks(mqtt.OnPublish) {
		publish = append(publish, h.ID())
	}
	if len(publish) != 1 || publish[0] != br.publish.ID() || len(br.publish.judges) != 3 {
		t.Fatalf("our hooks providing OnPublish in the loop: %v, want %s alone; judges inside it: %d, want 3 (auth, retained, client options)",
			publish, br.publish.ID(), len(br.publish.judges))
	}
}
