package inspector

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"mqtls/bench"
	"mqtls/internal/testutil"
)

// BenchmarkBrokerInspector measures the broker process at saturation with
// the inspector off and on, in one run: two mqtls broker processes, the same
// pubsub load (4 publisher/subscriber pairs, QoS 0, 64-byte payloads, as fast
// as the broker takes them) against each in turn, twice. It reports messages
// per second received and messages per broker CPU-second; the second is the
// fair figure on a shared machine.
//
//	go test -run '^$' -bench BrokerInspector -benchtime 1x ./inspector
func BenchmarkBrokerInspector(b *testing.B) {
	type side struct {
		name string
		url  string
		pid  int
		rate []float64
		perS []float64
	}
	start := func(name, extra string) *side {
		dir := b.TempDir()
		port := testutil.FreePort(b)
		conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n%s", port, extra)
		if err := os.WriteFile(filepath.Join(dir, "mqtls.conf"), []byte(conf), 0o600); err != nil {
			b.Fatal(err)
		}
		p := testutil.Start(b, dir, testutil.Mqtls(b), "broker", "-c", "mqtls.conf")
		testutil.WaitPort(b, p, testutil.Addr(port))
		return &side{name: name, url: "tcp://" + testutil.Addr(port), pid: p.Cmd.Process.Pid}
	}
	off := start("off", "")
	on := start("on", fmt.Sprintf("inspector 127.0.0.1:%d\n", testutil.FreePort(b)))
	run := func(s *side) {
		res, err := bench.PubSub(context.Background(), bench.PubSubOptions{
			Target: bench.Target{URL: s.url},
			Load:   bench.Load{Payload: 64, Duration: 4 * time.Second, Warmup: time.Second, PID: s.pid},
			Pairs:  4,
		})
		if err != nil {
			b.Fatalf("inspector %s: %v", s.name, err)
		}
		s.rate = append(s.rate, res.ReceivedRate)
		if res.Broker != nil {
			s.perS = append(s.perS, res.Broker.PerCoreSecond)
		}
		b.Logf("inspector %-3s  %8.0f msg/s received  %8.0f msg per broker CPU-second  (%.2f cores)",
			s.name, res.ReceivedRate, res.Broker.PerCoreSecond, res.Broker.CPU)
	}
	for range b.N {
		run(off)
		run(on)
		run(on)
		run(off)
	}
	mean := func(v []float64) float64 {
		sum := 0.0
		for _, x := range v {
			sum += x
		}
		return sum / float64(len(v))
	}
	b.ReportMetric(mean(off.rate), "msg/s-off")
	b.ReportMetric(mean(on.rate), "msg/s-on")
	b.ReportMetric(mean(off.perS), "msg/cpu-s-off")
	b.ReportMetric(mean(on.perS), "msg/cpu-s-on")
	b.ReportMetric(100*(1-mean(on.perS)/mean(off.perS)), "%-cpu-cost")
}
