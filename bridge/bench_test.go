package bridge_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"

	"mqtls/internal/testutil"
)

// BenchmarkBridge: QoS 1 messages through a bridge from an edge broker
// (mqtls, or Mosquitto bridging the same way) to a Mosquitto upstream over
// mutual TLS, against the same edge broker delivering to a local
// subscriber. It reports messages per second end to end and the edge
// broker's CPU per message (from /proc/PID/stat); "extra CPU per bridged
// message" is the difference of the two. Run it alone:
//
//	go test -run '^$' -bench Bridge -benchtime 20000x ./bridge
func BenchmarkBridge(b *testing.B) {
	testutil.Need(b, "mosquitto")
	dir := b.TempDir()
	pkiB(b, dir)
	pk := filepath.Join(dir, "pki")
	up := testutil.FreePort(b)
	upPlain := testutil.FreePort(b)
	upConf := fmt.Sprintf(`per_listener_settings true
listener %d 127.0.0.1
cafile %s/chain.pem
certfile %s/issued/server.crt
keyfile %s/issued/server.key
require_certificate true
use_identity_as_username true
allow_anonymous false
listener %d 127.0.0.1
allow_anonymous true
`, up, pk, pk, pk, upPlain)
	upP := testutil.Mosquitto(b, upPlain, upConf)
	testutil.WaitPort(b, upP, testutil.Addr(up))
	bridgeBlock := fmt.Sprintf(`connection cloud
address 127.0.0.1:%d
remote_clientid edge01
bridge_cafile %s/root.crt
bridge_certfile %s/issued/edge01.crt
bridge_keyfile %s/issued/edge01.key
topic bench/# out 1
`, up, pk, pk, pk)
	for _, edge := range []string{"mqtls", "mosquitto"} {
		for _, mode := range []string{"local", "bridged"} {
			b.Run(edge+"/"+mode, func(b *testing.B) {
				port := testutil.FreePort(b)
				conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", port)
				if mode == "bridged" {
					conf += bridgeBlock
				}
				var p *testutil.Proc
				if edge == "mosquitto" {
					p = testutil.Mosquitto(b, port, conf)
				} else {
					d := b.TempDir()
					if err := os.WriteFile(filepath.Join(d, "mqtls.conf"), []byte(conf), 0o600); err != nil {
						b.Fatal(err)
					}
					p = testutil.Start(b, d, testutil.Mqtls(b), "broker", "-c", "mqtls.conf")
					testutil.WaitPort(b, p, testutil.Addr(port))
				}
				subPort := port
				if mode == "bridged" {
					subPort = upPlain
				}
				sub, got, arrived := benchSub(b, subPort, fmt.Sprintf("bench-sub-%s-%s", edge, mode))
				pub := benchClient(b, port, "bench-pub")
				if mode == "bridged" {
					// the bridge is up once a message crosses it
					waitCross(b, pub, got)
				}
				got.Store(0)
				cpu0 := cpuTicks(b, p.Cmd.Process.Pid)
				b.ResetTimer()
				start := time.Now()
				// A closed loop end to end: at most window messages published
				// and not yet received, so that no broker is overrun (both drop
				// QoS 1 messages beyond max_queued_messages).
				const window = 64
				payload := make([]byte, 64)
				for i := range b.N {
					for int64(i)-got.Load() >= window {
						select {
						case <-arrived:
						case <-time.After(time.Second):
						}
					}
					pub.Publish("bench/x", 1, false, payload)
				}
				testutil.WaitFor(b, 2*time.Minute, "every message", func() bool { return got.Load() >= int64(b.N) })
				el := time.Since(start)
				b.StopTimer()
				cpu := float64(cpuTicks(b, p.Cmd.Process.Pid)-cpu0) / 100 // USER_HZ
				b.ReportMetric(float64(b.N)/el.Seconds(), "msgs/s")
				b.ReportMetric(cpu*1e6/float64(b.N), "edge-cpu-µs/msg")
				sub.Disconnect(0)
				pub.Disconnect(0)
			})
		}
	}
}

func pkiB(b *testing.B, dir string) {
	for _, args := range [][]string{
		{"ca", "init", "--no-password", "--insecure", "--pki", "pki"},
		{"cert", "server", "--host", "localhost", "--ip", "127.0.0.1", "--pki", "pki"},
		{"cert", "client", "edge01", "--pki", "pki"},
	} {
		if out, code := testutil.Run(b, dir, time.Minute, testutil.Mqtls(b), args...); code != 0 {
			b.Fatalf("mqtls %s: exit %d\n%s", strings.Join(args, " "), code, out)
		}
	}
}

func benchClient(b *testing.B, port int, id string) paho.Client {
	o := paho.NewClientOptions().AddBroker("tcp://" + testutil.Addr(port)).SetClientID(id).SetAutoReconnect(false).SetMaxResumePubInFlight(64)
	c := paho.NewClient(o)
	if t := c.Connect(); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		b.Fatalf("connect: %v", t.Error())
	}
	return c
}

func benchSub(b *testing.B, port int, id string) (paho.Client, *atomic.Int64, chan struct{}) {
	var n atomic.Int64
	arrived := make(chan struct{}, 1)
	c := benchClient(b, port, id)
	if t := c.Subscribe("bench/#", 1, func(paho.Client, paho.Message) {
		n.Add(1)
		select {
		case arrived <- struct{}{}:
		default:
		}
	}); !t.WaitTimeout(10*time.Second) || t.Error() != nil {
		b.Fatalf("subscribe: %v", t.Error())
	}
	return c, &n, arrived
}

func waitCross(b *testing.B, pub paho.Client, got *atomic.Int64) {
	deadline := time.Now().Add(30 * time.Second)
	for got.Load() == 0 {
		if time.Now().After(deadline) {
			b.Fatal("no message crossed the bridge in 30s")
		}
		pub.Publish("bench/warm", 1, false, "w").Wait()
		time.Sleep(100 * time.Millisecond)
	}
}

// cpuTicks is the user+system CPU time of pid in clock ticks.
func cpuTicks(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatal(err)
	}
	s := string(raw)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return u + st
}
