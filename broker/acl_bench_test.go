package broker

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/dynsec"
)

// benchSecurity are the access controls the benchmarks compare.
func benchSecurity(b testing.TB) []struct{ name, sec string } {
	dir := b.TempDir()
	acl := filepath.Join(dir, "acl")
	os.WriteFile(acl, []byte("pattern readwrite devices/%u/#\nuser dev1\ntopic read fleet/#\n"), 0o600)
	ds := filepath.Join(dir, "dynsec.json")
	if err := dynsec.Init(ds, "admin", []byte("pw")); err != nil {
		b.Fatal(err)
	}
	return []struct{ name, sec string }{
		{"acl_file", "acl_file " + acl},
		{"dynsec", "plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file " + ds},
	}
}

// benchHook builds a broker (not started) with the security lines sec and
// returns its auth hook and a v5 client "dev1" of its listener.
func benchHook(b testing.TB, sec string) (*authHook, *mqtt.Client) {
	br := unstartedBroker(b, fmt.Appendf(nil, "listener 1 127.0.0.1\n%s\n", sec))
	h := &authHook{b: br}
	h.Init(nil)
	return h, benchClient("dev1")
}

func benchClient(id string) *mqtt.Client {
	return &mqtt.Client{ID: id, Net: mqtt.ClientConnection{Listener: "127.0.0.1:1"},
		Properties: mqtt.ClientProperties{Username: []byte(id), ProtocolVersion: 5}}
}

// BenchmarkDeliveryACL measures the hook's answer for one delivery, which
// mochi asks for every message and every subscriber, with an acl_file and
// with a dynsec store.
func BenchmarkDeliveryACL(b *testing.B) {
	for _, c := range benchSecurity(b) {
		b.Run(c.name, func(b *testing.B) {
			h, cl := benchHook(b, c.sec)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				h.OnACLCheck(cl, "devices/dev1/temp", false)
			}
		})
	}
}

// BenchmarkDeliveryACLWhileSubscribing measures deliveries from parallel
// goroutines while another client's SUBSCRIBE is being checked: "pending"
// has one SUBSCRIBE between OnSubscribe and OnSubscribed all the time,
// "churn" a goroutine subscribing all the time. Deliveries share no state
// with SUBSCRIBEs, so both should cost what BenchmarkDeliveryACL does. Run
// with -cpu 1,2 to see contention.
func BenchmarkDeliveryACLWhileSubscribing(b *testing.B) {
	sub := packets.Packet{Filters: packets.Subscriptions{{Filter: "devices/dev2/x"}}}
	for _, c := range benchSecurity(b) {
		b.Run(c.name+"/pending", func(b *testing.B) {
			h, cl := benchHook(b, c.sec)
			h.OnSubscribe(benchClient("dev2"), sub)
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.OnACLCheck(cl, "devices/dev1/temp", false)
				}
			})
		})
		b.Run(c.name+"/churn", func(b *testing.B) {
			h, cl := benchHook(b, c.sec)
			other := benchClient("dev2")
			stop, done := make(chan struct{}), make(chan struct{})
			go func() {
				defer close(done)
				for {
					select {
					case <-stop:
						return
					default:
					}
					h.OnSubscribe(other, sub)
					h.OnSubscribed(other, sub, nil)
				}
			}()
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					h.OnACLCheck(cl, "devices/dev1/temp", false)
				}
			})
			b.StopTimer()
			close(stop)
			<-done
		})
	}
}

// BenchmarkSubscribeACL measures the hook's work for one SUBSCRIBE of three
// filters (a wildcard, a literal and a refused one), as mochi drives it:
// OnSubscribe, OnACLCheck for each filter it passes on, OnSubscribed.
func BenchmarkSubscribeACL(b *testing.B) {
	for _, c := range benchSecurity(b) {
		b.Run(c.name, func(b *testing.B) {
			h, cl := benchHook(b, c.sec)
			sub := packets.Packet{Filters: packets.Subscriptions{{Filter: "devices/dev1/#"}, {Filter: "fleet/status"}, {Filter: "devices/dev2/x"}}}
			b.ReportAllocs()
			for b.Loop() {
				pk := h.OnSubscribe(cl, sub)
				for _, f := range pk.Filters {
					h.OnACLCheck(cl, f.Filter, false)
				}
				h.OnSubscribed(cl, pk, nil)
			}
		})
	}
}
