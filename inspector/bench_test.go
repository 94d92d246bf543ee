package inspector

import (
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"
)

// BenchmarkTap measures the broker's publish path at saturation, with the
// tap off and on, in one run: publishers on every core, 1,000 topics, JSON
// payloads, one subscriber to "#". There is no network in the loop, which
// makes the tap's share look as large as it can be.
//
//	go test -run '^$' -bench Tap -benchtime 2s ./inspector
func BenchmarkTap(b *testing.B) {
	for _, on := range []bool{false, true} {
		name := "off"
		if on {
			name = "on"
		}
		b.Run(name, func(b *testing.B) {
			srv := mqtt.New(&mqtt.Options{InlineClient: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			srv.AddHook(new(allowAll), nil)
			if on {
				insp, err := New(srv, nil, Options{})
				if err != nil {
					b.Fatal(err)
				}
				srv.AddHook(insp.Hook(), nil)
			}
			if err := srv.Serve(); err != nil {
				b.Fatal(err)
			}
			defer srv.Close()
			var delivered atomic.Int64
			srv.Subscribe("#", 1, func(*mqtt.Client, packets.Subscription, packets.Packet) { delivered.Add(1) })
			topics := make([]string, 1000)
			payloads := make([][]byte, len(topics))
			for n := range topics {
				topics[n] = fmt.Sprintf("site/%d/dev/%d/telemetry", n%10, n)
				payloads[n] = fmt.Appendf(nil, `{"temp":%d.5,"hum":40,"ok":true}`, n%30)
			}
			var ids atomic.Int64
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := cpuTime()
			b.RunParallel(func(pb *testing.PB) {
				cl := device(srv, fmt.Sprintf("pub-%d", ids.Add(1)), "DSN000001")
				n := 0
				for pb.Next() {
					k := n % len(topics)
					srv.InjectPacket(cl, packets.Packet{
						FixedHeader: packets.FixedHeader{Type: packets.Publish},
						TopicName:   topics[k], Payload: payloads[k],
					})
					n++
				}
			})
			b.StopTimer()
			// CPU time per message is steadier than wall time on a shared machine.
			b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
			if delivered.Load() < int64(b.N) {
				b.Fatalf("delivered %d of %d", delivered.Load(), b.N)
			}
		})
	}
}

// TestMemoryWithinBound fills the tap with 100,000 distinct topics, more than
// it may hold, each with a history, lints those it keeps, and checks that
// the heap it keeps stays within Options.Bound.
func TestMemoryWithinBound(t *testing.T) {
	if testing.Short() {
		t.Skip("allocates 100,000 topics")
	}
	opts := Options{MaxTopics: 50000, PayloadBytes: 256, History: 100}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	insp2, err := New(srv, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	// longer than PayloadBytes, so every topic stores two full cut payloads,
	// and numeric, so every topic keeps a history
	payload := fmt.Appendf(nil, `{"temp":21.5,"hum":40,"pad":"%0990d"}`, 0)
	before := heap()
	cl := device(srv, "filler", "DSN000001")
	for n := range 100000 {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
			TopicName: fmt.Sprintf("/Fleet/%05d//tele metry/temperature/", n), Payload: payload, Created: 1}
		for k := range 4 { // a history beyond the last two, and chart samples
			insp2.tap.record(cl, pk, timeAt(n).Add(time.Duration(k)*time.Second))
		}
	}
	// a page reads every topic: each is linted, and keeps its five findings
	// (leading and trailing slash, empty level, whitespace, upper case)
	var c cursor
	if f := insp2.frame(&c, identity{local: true}, search{}, opts.MaxTopics); len(f.Topics) != opts.MaxTopics || f.Topics[0].Lint != "error" {
		t.Fatalf("the frame holds %d topics, the first marked %q", len(f.Topics), f.Topics[0].Lint)
	}
	used := heap() - before
	if insp2.Topics() != opts.MaxTopics {
		t.Errorf("holds %d topics, want %d", insp2.Topics(), opts.MaxTopics)
	}
	bound := opts.Bound()
	t.Logf("100,000 topics into a %d-topic tap: %d topics held, heap %.1f MB (%.0f bytes a topic), bound %.1f MB",
		opts.MaxTopics, insp2.Topics(), float64(used)/(1<<20), float64(used)/float64(opts.MaxTopics), float64(bound)/(1<<20))
	if used > bound {
		t.Errorf("heap grew by %d bytes, over the bound of %d", used, bound)
	}
	if b := insp2.store.bytes.Load(); b > insp2.store.maxBytes {
		t.Errorf("the store counts %d bytes, over its bound of %d", b, insp2.store.maxBytes)
	}
	runtime.KeepAlive(insp2)
}

func heap() int64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

func timeAt(n int) time.Time { return time.UnixMilli(int64(n) * 1000) }

// cpuTime is the process's user and system CPU time in nanoseconds.
func cpuTime() int64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// BenchmarkRecord is the tap's own cost per message: what OnPublished adds
// to the publisher's goroutine (1,000 topics, JSON payloads, all cores).
func BenchmarkRecord(b *testing.B) {
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	insp, err := New(srv, nil, Options{})
	if err != nil {
		b.Fatal(err)
	}
	topics := make([]string, 1000)
	payloads := make([][]byte, len(topics))
	for n := range topics {
		topics[n] = fmt.Sprintf("site/%d/dev/%d/telemetry", n%10, n)
		payloads[n] = fmt.Appendf(nil, `{"temp":%d.5,"hum":40,"ok":true}`, n%30)
	}
	insp.tap.OnStarted() // the coarse clock
	defer insp.tap.Stop()
	var ids atomic.Int64
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		cl := device(srv, fmt.Sprintf("pub-%d", ids.Add(1)), "DSN000001")
		n := int(ids.Load()) * 7
		for pb.Next() {
			k := n % len(topics)
			insp.tap.OnPublished(cl, packets.Packet{
				FixedHeader: packets.FixedHeader{Type: packets.Publish},
				TopicName:   topics[k], Payload: payloads[k],
			})
			n++
		}
	})
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}
