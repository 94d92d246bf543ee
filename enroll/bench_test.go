package enroll_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/eclipse/paho.golang/packets"
	"github.com/eclipse/paho.golang/paho"

	"mqtls/broker"
	"mqtls/ca"
	"mqtls/certs"
	"mqtls/client"
	"mqtls/conf"
	"mqtls/enroll"
	"mqtls/internal/testutil"
)

// benchEnv is an in-process broker with an enrollment listener, its CA
// and a claim without a use limit.
type benchEnv struct {
	addr, chain, claimCrt, claimKey string
}

func newBenchEnv(b testing.TB) *benchEnv { return newBenchEnvFleet(b, 0) }

// newBenchEnvFleet is newBenchEnv with a dynsec file that already holds
// fleet clients (F0000000...), as a broker of a grown fleet has: the file
// is rewritten whole on every save, so its size is part of the cost.
func newBenchEnvFleet(b testing.TB, fleet int) *benchEnv {
	b.Helper()
	dir := b.TempDir()
	pki := filepath.Join(dir, "pki")
	a := newCA(b, pki)
	if _, err := a.IssueServer(ca.ServerOptions{Hosts: []string{"localhost"}}); err != nil {
		b.Fatal(err)
	}
	if _, err := a.IssueClaim("bench", ca.ClaimOptions{}); err != nil {
		b.Fatal(err)
	}
	ds := filepath.Join(dir, "dynamic-security.json")
	var clients bytes.Buffer
	for i := range fleet {
		if i > 0 {
			clients.WriteByte(',')
		}
		fmt.Fprintf(&clients, `{"username": "F%07d", "textdescription": "enrolled with claim:bench", "roles": [{"rolename": "device"}]}`, i)
	}
	if err := os.WriteFile(ds, fmt.Appendf(nil, `{"clients": [%s], "groups": [], "roles": [{"rolename": "device"}]}`, clients.Bytes()), 0o600); err != nil {
		b.Fatal(err)
	}
	port := testutil.FreePort(b)
	cfg, err := conf.Parse("bench.conf", fmt.Appendf(nil, `listener %d 127.0.0.1
cafile %[2]s/chain.pem
certfile %[2]s/issued/server.crt
keyfile %[2]s/issued/server.key
require_certificate true
use_identity_as_username true
enrollment true
plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file %[3]s
enroll_pki %[2]s
enroll_role device
`, port, pki, ds))
	if err != nil {
		b.Fatal(err)
	}
	br, err := broker.New(cfg, nil, broker.Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { br.Close() })
	svc, err := enroll.New(enroll.Config{CA: a, Store: br.DynamicSecurity(), Role: "device"})
	if err != nil {
		b.Fatal(err)
	}
	br.SetEnroller(svc)
	if err := br.Start(); err != nil {
		b.Fatal(err)
	}
	return &benchEnv{addr: testutil.Addr(port), chain: filepath.Join(pki, "chain.pem"),
		claimCrt: filepath.Join(pki, "issued", "claim-bench.crt"), claimKey: filepath.Join(pki, "issued", "claim-bench.key")}
}

// BenchmarkEnrollOverMQTT: enrollments per second through the broker.
// persistent: 16 claim connections, each sending one request after the
// other (the broker's side: parse, CSR check, claim check, sign, index
// append and sync, dynsec client and file save, answer). per-device: what
// a fleet on first boot costs, each enrollment its own TLS connection,
// key and CSR (mqtls enroll's code), 16 at a time.
func BenchmarkEnrollOverMQTT(b *testing.B) {
	const conns = 16
	for _, fleet := range []int{0, 10000} {
		b.Run(fmt.Sprintf("persistent/fleet=%d", fleet), func(b *testing.B) { benchPersistent(b, conns, fleet) })
	}
	// One request at a time: the rate is 1 / an enrollment's latency,
	// which the syncs in a row set, less the CPU the machine leaves.
	b.Run("serial", func(b *testing.B) { benchPersistent(b, 1, 0) })
	b.Run("per-device", func(b *testing.B) {
		e := newBenchEnv(b)
		var next, failed atomic.Int64
		var wg sync.WaitGroup
		o := client.Options{Host: "localhost", Port: 0, TLS: &client.TLSOptions{CAFile: e.chain, CertFile: e.claimCrt, KeyFile: e.claimKey}}
		fmt.Sscanf(e.addr[len("127.0.0.1:"):], "%d", &o.Port)
		b.ResetTimer()
		start, cpu := time.Now(), cpuTime()
		for range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					i := next.Add(1) - 1
					if i >= int64(b.N) {
						return
					}
					ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
					_, err := enroll.Ask(ctx, o, fmt.Sprintf("D%07d", i), certs.EC)
					cancel()
					if err != nil {
						failed.Add(1)
					}
				}
			}()
		}
		wg.Wait()
		b.StopTimer()
		if n := failed.Load(); n > 0 {
			b.Fatalf("%d enrollments failed", n)
		}
		b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enrollments/s")
		b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/enrollment")
	})
}

// benchPersistent: conns claim connections, each sending one request after
// the other, against a broker whose dynsec file holds fleet clients.
func benchPersistent(b *testing.B, conns, fleet int) {
	e := newBenchEnvFleet(b, fleet)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	reqs := make([][]byte, b.N)
	for i := range reqs {
		id := fmt.Sprintf("P%07d", i)
		reqs[i], _ = json.Marshal(enroll.Request{ID: id, CSR: csrFor(b, key, id)})
	}
	cs := make([]*benchConn, conns)
	for i := range cs {
		cs[i] = dialBench(b, e, i)
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	start, cpu := time.Now(), cpuTime()
	for _, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(len(reqs)) {
					return
				}
				if !c.ask(reqs[i]) {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d enrollments failed", n)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "enrollments/s")
	b.ReportMetric((cpuTime()-cpu).Seconds()*1000/float64(b.N), "cpu-ms/enrollment")
}

// TestBenchConnWritesPacketsWhole: the benchmark's claim connections
// write every packet whole. paho.golang takes the connection's lock around
// a packet's writes only when the connection is a sync.Locker; without it
// the pinger's first PINGREQ, sent at once after CONNACK, was spliced into
// the SUBSCRIBE now and then, the broker closed the connection on the
// malformed packet and the benchmark failed while dialling (no SUBACK).
func TestBenchConnWritesPacketsWhole(t *testing.T) {
	e := newBenchEnv(t)
	c := dialBench(t, e, 0)
	if _, ok := c.conn.(sync.Locker); !ok {
		t.Fatal("the claim connection is not a sync.Locker: paho's pinger can write a PINGREQ inside another packet")
	}
}

// cpuTime is the CPU time this process used (broker and clients: both
// sides of every enrollment), which the machine's other load does not
// change the way it changes wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchConn is one claim connection that sends requests one at a time.
type benchConn struct {
	conn net.Conn
	c    *paho.Client
	rt   string
	resp chan []byte
}

func dialBench(b testing.TB, e *benchEnv, n int) *benchConn {
	b.Helper()
	pair, err := tls.LoadX509KeyPair(e.claimCrt, e.claimKey)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pem, _ := os.ReadFile(e.chain)
	pool.AppendCertsFromPEM(pem)
	conn, err := tls.Dial("tcp", e.addr, &tls.Config{RootCAs: pool, ServerName: "localhost", Certificates: []tls.Certificate{pair}})
	if err != nil {
		b.Fatal(err)
	}
	c := &benchConn{rt: fmt.Sprintf("%sbench%d", enroll.ResponsePrefix, n), resp: make(chan []byte, 1)}
	// paho writes a packet in several writes, and its pinger sends a
	// PINGREQ from a goroutine of its own right after CONNACK: on a TLS
	// connection (no writev) that PINGREQ could land inside the SUBSCRIBE,
	// and the broker closed the connection on the malformed packet. A
	// connection that is a sync.Locker has each packet written whole.
	c.conn = packets.NewThreadSafeConn(conn)
	c.c = paho.NewClient(paho.ClientConfig{Conn: c.conn, OnPublishReceived: []func(paho.PublishReceived) (bool, error){
		func(pr paho.PublishReceived) (bool, error) { c.resp <- pr.Packet.Payload; return true, nil },
	}})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if ca, err := c.c.Connect(ctx, &paho.Connect{KeepAlive: 60, CleanStart: true}); err != nil {
		b.Fatalf("connect %d: %v %+v", n, err, ca)
	}
	if _, err := c.c.Subscribe(ctx, &paho.Subscribe{Subscriptions: []paho.SubscribeOptions{{Topic: c.rt}}}); err != nil {
		b.Fatalf("subscribe %d: %v", n, err)
	}
	b.Cleanup(func() { _ = c.c.Disconnect(&paho.Disconnect{}) })
	return c
}

func (c *benchConn) ask(req []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.c.Publish(ctx, &paho.Publish{Topic: enroll.Topic, Payload: req, Properties: &paho.PublishProperties{ResponseTopic: c.rt}}); err != nil {
		return false
	}
	select {
	case p := <-c.resp:
		return bytes.Contains(p, []byte(`"status":"issued"`))
	case <-ctx.Done():
		return false
	}
}
