package bench

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sync/atomic"
	"testing"
	"time"

	"mqtls/broker"
	"mqtls/conf"
	"mqtls/internal/testutil"
)

var (
	idleConns = flag.Int("idle.conns", 10000, "BenchmarkBrokerIdleMTLS: idle mTLS connections")
	idleHeap  = flag.String("idle.heapprofile", "", "BenchmarkBrokerIdleMTLS: write the heap profile at idle to this file")
	idleStack = flag.Bool("idle.stacks", false, "BenchmarkBrokerIdleMTLS: log the call stacks of the connections' goroutines, frame by frame, from a heap dump at idle")
)

// BenchmarkBrokerIdleMTLS holds -idle.conns idle mutual-TLS connections
// (default 10,000, from a separate `mqtls bench connect` process) to the
// broker in this process and accounts for their memory once they are
// all up: live heap, goroutine stacks and goroutines per connection after
// a collection, and the process's resident memory growth. With
// -idle.heapprofile the heap profile at that moment is written too:
//
//	go test -run '^$' -bench BrokerIdleMTLS -benchtime 1x -idle.heapprofile idle.prof ./bench
//	go tool pprof -sample_index=inuse_space -top bench.test idle.prof
//
// With -idle.stacks (and -v, for the whole log) it logs where the
// connections' goroutines are parked, with the stack each frame takes
// (from a heap dump of the process; see stackGroups), and reports the
// stack they have in use per connection beside the stack they hold
// (stack-KiB/conn):
//
//	go test -v -run '^$' -bench BrokerIdleMTLS -benchtime 1x -idle.conns 3000 -idle.stacks ./bench
func BenchmarkBrokerIdleMTLS(b *testing.B) {
	bin := testutil.Mqtls(b)
	dir, clients := pki(b)
	port := testutil.FreePort(b)
	cfg, err := conf.Parse("bench.conf", fmt.Appendf(nil, `per_listener_settings false
allow_anonymous false
persistence false
listener %d 127.0.0.1
cafile %s
certfile %s
keyfile %s
require_certificate true
use_identity_as_username true
`, port, filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")))
	if err != nil {
		b.Fatal(err)
	}
	br, err := broker.New(cfg, nil, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	defer br.Close()
	n := *idleConns
	for b.Loop() {
		base := idleMemory()
		// The connections are held far longer than they take to make:
		// the measurement below ends the process, not the hold.
		p := testutil.Start(b, dir, bin, "bench", "connect", "--url", "ssl://"+testutil.Addr(port),
			"--cafile", filepath.Join(dir, "ca.crt"), "--cert-dir", clients,
			"--connections", fmt.Sprint(n), "--concurrency", "16", "--hold", "10m", "--quiet",
			"--pid", fmt.Sprint(os.Getpid())) // the hold needs --pid
		deadline := time.Now().Add(10 * time.Minute)
		for atomic.LoadInt64(&br.Server().Info.ClientsConnected) < int64(n) {
			select {
			case <-p.Done():
				b.Fatalf("bench connect ended before %d connections: %s", n, p.Stderr())
			case <-time.After(100 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				b.Fatalf("%d of %d connections after 10 minutes", br.Server().Info.ClientsConnected, n)
			}
		}
		idle := idleMemory()
		if *idleHeap != "" {
			f, err := os.Create(*idleHeap)
			if err != nil {
				b.Fatal(err)
			}
			if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
		if *idleStack {
			groups, err := writeStackGroups(b.TempDir())
			if err != nil {
				b.Fatal(err)
			}
			logStackGroups(b, groups, n/2)
			var used uint64
			for _, g := range groups {
				if g.Count >= n/2 {
					used += g.Used * uint64(g.Count)
				}
			}
			b.ReportMetric(float64(used)/float64(n)/1024, "stack-in-use-KiB/conn")
		}
		p.Kill()
		per := func(v, w uint64) float64 { return float64(int64(v)-int64(w)) / float64(n) / 1024 }
		b.ReportMetric(per(idle.heap, base.heap), "heap-KiB/conn")
		b.ReportMetric(per(idle.stack, base.stack), "stack-KiB/conn")
		b.ReportMetric(per(idle.rss, base.rss), "rss-KiB/conn")
		b.ReportMetric(float64(idle.goroutines-base.goroutines)/float64(n), "goroutines/conn")
	}
}

type memory struct {
	heap, stack, rss uint64
	goroutines       int
}

// idleMemory collects twice (the handshakes' garbage goes) and reads the live heap, the stacks and the
// resident memory of this process.
func idleMemory() memory {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	m := memory{heap: ms.HeapAlloc, stack: ms.StackInuse, goroutines: runtime.NumGoroutine()}
	if s, err := readProc(os.Getpid()); err == nil {
		m.rss = uint64(s.rss)
	}
	return m
}
