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

// TestMemoryWithinBound pushes far more than the bound into a small tap:
// 20,000 badly named topics (five lint findings each once the page reads
// them) and 300 topics with full histories of payloads longer than
// PayloadBytes, MQTT 5 properties and chart samples. The store's count
// stays under MaxBytes after every message, it is exact (the sum of what
// its topics hold), and the heap the tap keeps after a GC is within what
// the count says (plus the ring of removed names), so the count does not
// miss what the heap holds.
func TestMemoryWithinBound(t *testing.T) {
	if testing.Short() {
		t.Skip("pushes 200 MB through the tap")
	}
	opts := Options{MaxTopics: 50000, MaxBytes: 16 << 20, PayloadBytes: 4096, History: 100}
	srv := mqtt.New(&mqtt.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	insp2, err := New(srv, nil, opts)
	if err != nil {
		t.Fatal(err)
	}
	s := insp2.store
	before := heap()
	cl := device(srv, "a-publisher-with-a-long-client-id-0123456789", "DSN000001")
	check := func(when string) {
		if b := s.bytes.Load(); b > s.maxBytes {
			t.Fatalf("%s: the store counts %d bytes, over its bound of %d", when, b, s.maxBytes)
		}
	}
	small := fmt.Appendf(nil, `{"temp":21.5,"hum":40,"pad":"%0900d"}`, 0)
	for n := range 20000 {
		pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish},
			TopicName: fmt.Sprintf("/Fleet/%05d//tele metry/temperature/", n), Payload: small}
		for k := range 4 {
			insp2.tap.record(cl, pk, timeAt(n).Add(time.Duration(k)*time.Second))
			check("names")
		}
	}
	// longer than PayloadBytes: every message keeps a cut 4,096 bytes
	big := fmt.Appendf(nil, `{"temp":21.5,"hum":40,"pad":"%06000d"}`, 0)
	props := packets.Properties{ContentType: "application/json", ResponseTopic: "reply/to/me",
		CorrelationData: make([]byte, 200), User: []packets.UserProperty{{Key: "site", Val: "plant-7"}, {Key: "line", Val: "3"}}}
	for k := range 100 {
		for n := range 300 {
			pk := packets.Packet{FixedHeader: packets.FixedHeader{Type: packets.Publish, Qos: 1},
				TopicName: fmt.Sprintf("history/%03d", n), Payload: big, Properties: props}
			insp2.tap.record(cl, pk, timeAt(30000+k))
			check("histories")
		}
	}
	// a page reads every topic: each is linted, and keeps its findings
	func() {
		var c cursor
		f := insp2.frame(&c, identity{local: true}, search{}, opts.MaxTopics)
		if len(f.Topics) == 0 {
			t.Fatal("the frame holds no topic")
		}
	}()
	check("lint")
	var sum int64
	held, topics, most := 0, 0, 0
	for i := range s.shards {
		for _, st := range s.shards[i].m {
			st.mu.Lock()
			if st.account() != (costChange{}) {
				t.Errorf("%s: its count was stale", st.name)
			}
			sum += st.charged
			held += len(st.msgs)
			most = max(most, len(st.msgs))
			st.mu.Unlock()
			topics++
		}
	}
	counted := s.bytes.Load()
	if counted != sum {
		t.Errorf("the store counts %d bytes, its topics hold %d", counted, sum)
	}
	used := heap() - before
	t.Logf("20,000 named topics and 300 histories of 4 KiB payloads into a %d MiB tap: %d topics, %d messages (at most %d a topic), "+
		"%d bytes counted, heap %d bytes (%.2f of the count), bound %d",
		opts.MaxBytes>>20, topics, held, most, counted, used, float64(used)/float64(counted), opts.Bound())
	if used > opts.Bound() {
		t.Errorf("the heap grew by %d bytes, over the bound of %d", used, opts.Bound())
	}
	// what the heap holds beyond the count: the ring of removed names
	// (goneRingBytes) and the slack of the maps' growth
	if used > counted+goneRingBytes {
		t.Errorf("the heap grew by %d bytes, the store counts %d: the count misses %d bytes", used, counted, used-counted-goneRingBytes)
	}
	if counted < s.maxBytes/2 {
		t.Errorf("the store uses %d of %d bytes: it gives up more than it must", counted, s.maxBytes)
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
