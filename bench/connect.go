package bench

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"mqtls/client"
)

// ConnectOptions configures [Connect].
type ConnectOptions struct {
	Target Target
	// Connections is how many connections to open (default 1000).
	Connections int
	// Concurrency is how many connects are in progress at once (default 16).
	Concurrency int
	// Hold is how long the connections stay open and idle before the
	// broker's memory is read (default 2s).
	Hold time.Duration
	// Prefix starts every client id (default "bench").
	Prefix string
	// PID is the broker's process id; when set, its CPU time while
	// connecting and its memory per idle connection are measured.
	PID int
	// Progress, when set, is called about once a second while connecting.
	Progress func(Progress)
}

// ConnectResult is the outcome of a connect run.
type ConnectResult struct {
	Mode        string  `json:"mode"`
	URL         string  `json:"url"`
	TLS         bool    `json:"tls"`
	ClientCerts int     `json:"client_certs"`
	Connections int     `json:"connections"`
	Concurrency int     `json:"concurrency"`
	Connected   int64   `json:"connected"`
	Failed      int64   `json:"failed"`
	Seconds     float64 `json:"seconds"`
	// PerSecond is successful connects per second of wall time.
	PerSecond float64 `json:"connects_per_s"`
	// Latency is from dial to CONNACK, TLS handshake included.
	Latency Latency `json:"latency"`
	// Broker holds the broker's CPU while connecting (PerCoreSecond is
	// connects per broker core-second) and its memory before connecting
	// and after holding.
	Broker *Broker `json:"broker,omitempty"`
	// RSSPerConn is the growth of the broker's resident memory divided by
	// the connections held, in bytes.
	RSSPerConn float64 `json:"rss_per_conn_bytes,omitempty"`
	// FirstError is the first failure, when some connects failed.
	FirstError string `json:"first_error,omitempty"`
}

// Connect opens C connections, K at a time, holds them idle, and closes them.
func Connect(ctx context.Context, o ConnectOptions) (*ConnectResult, error) {
	if o.Connections == 0 {
		o.Connections = 1000
	}
	if o.Concurrency == 0 {
		o.Concurrency = 16
	}
	if o.Hold == 0 {
		o.Hold = 2 * time.Second
	}
	if o.Prefix == "" {
		o.Prefix = "bench"
	}
	if o.Connections < 1 || o.Concurrency < 1 {
		return nil, errors.New("connections and concurrency must be at least 1")
	}
	t := &o.Target
	if err := t.prepare(); err != nil {
		return nil, err
	}
	id := o.Prefix + "-" + runID()
	res := &ConnectResult{
		Mode: "connect", URL: t.URL, TLS: t.tls(), ClientCerts: len(t.certs),
		Connections: o.Connections, Concurrency: o.Concurrency,
	}

	var before procSample
	if o.PID > 0 {
		var err error
		if before, err = readProc(o.PID); err != nil {
			return nil, err
		}
	}
	clients := make([]*client.Conn, o.Connections)
	lat := make([]int64, o.Connections)
	var connected, failed atomic.Int64
	var firstErr error
	var errOnce sync.Once
	defer func() {
		var wg sync.WaitGroup
		for _, c := range clients {
			if c != nil {
				wg.Go(func() { c.Close() })
			}
		}
		wg.Wait()
	}()

	start := time.Now()
	stop := make(chan struct{})
	var pwg sync.WaitGroup
	if o.Progress != nil {
		pwg.Go(func() {
			tick := time.NewTicker(time.Second)
			defer tick.Stop()
			for {
				select {
				case <-stop:
					return
				case <-tick.C:
					o.Progress(Progress{Mode: "connect", Elapsed: time.Since(start), Sent: connected.Load() + failed.Load(), Received: connected.Load()})
				}
			}
		})
	}
	// Workers take the next index, so that K connects are always in flight.
	var next atomic.Int64
	var wg sync.WaitGroup
	for range o.Concurrency {
		wg.Go(func() {
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= o.Connections {
					return
				}
				t0 := time.Now()
				c, err := t.connect(ctx, fmt.Sprintf("%s-%d", id, i), i, nil)
				if err != nil {
					failed.Add(1)
					errOnce.Do(func() { firstErr = err })
					lat[i] = -1
					continue
				}
				lat[i] = int64(time.Since(t0))
				clients[i] = c
				connected.Add(1)
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(stop)
	pwg.Wait()
	var during procSample
	if o.PID > 0 {
		var err error
		if during, err = readProc(o.PID); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	res.Connected, res.Failed = connected.Load(), failed.Load()
	res.Seconds = elapsed.Seconds()
	res.PerSecond = float64(res.Connected) / elapsed.Seconds()
	ok := make([]int64, 0, len(lat))
	for _, v := range lat {
		if v >= 0 {
			ok = append(ok, v)
		}
	}
	res.Latency = latencyOf(ok, int64(len(ok)))
	if firstErr != nil {
		res.FirstError = firstErr.Error()
	}
	if o.PID > 0 {
		if !sleepCtx(ctx, o.Hold) {
			return nil, ctx.Err()
		}
		after, err := readProc(o.PID)
		if err != nil {
			return nil, err
		}
		res.Broker = brokerBetween(o.PID, before, during, res.Connected)
		res.Broker.RSSAfter = after.rss
		if res.Connected > 0 {
			res.RSSPerConn = float64(after.rss-before.rss) / float64(res.Connected)
		}
	}
	if res.Connected == 0 {
		return res, fmt.Errorf("no connection succeeded: %s", res.FirstError)
	}
	return res, nil
}
