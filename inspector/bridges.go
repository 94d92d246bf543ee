package inspector

import (
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bridge is the state of one of the broker's bridges, as [Options.Bridges]
// reports it.
type Bridge struct {
	Name    string `json:"name"`
	State   string `json:"state"`
	Address string `json:"address"`
	// Queued is the number of messages the broker holds for the bridge:
	// sent and not yet acknowledged by the remote broker, or waiting for it.
	Queued   int    `json:"queued"`
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	Dropped  uint64 `json:"dropped"`
}

// bridgeView is a bridge with its rates for the clients panel.
type bridgeView struct {
	Bridge
	// SentRate and ReceivedRate are messages per second since the
	// previous sample (at least a second before).
	SentRate     float64 `json:"sentRate"`
	ReceivedRate float64 `json:"receivedRate"`
}

// bridgeRates turns the bridges' counters into rates.
type bridgeRates struct {
	mu   sync.Mutex
	last map[string]bridgeSample
}

type bridgeSample struct {
	at                     time.Time
	sent, received         uint64
	sentRate, receivedRate float64
}

func (r *bridgeRates) views(bs []Bridge, now time.Time) []bridgeView {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[string]bridgeSample{}
	}
	out := make([]bridgeView, 0, len(bs))
	for _, b := range bs {
		s, ok := r.last[b.Name]
		if !ok || b.Sent < s.sent || b.Received < s.received {
			s = bridgeSample{at: now, sent: b.Sent, received: b.Received}
		} else if d := now.Sub(s.at).Seconds(); d >= 1 {
			s = bridgeSample{at: now, sent: b.Sent, received: b.Received,
				sentRate: float64(b.Sent-s.sent) / d, receivedRate: float64(b.Received-s.received) / d}
		}
		r.last[b.Name] = s
		out = append(out, bridgeView{Bridge: b, SentRate: s.sentRate, ReceivedRate: s.receivedRate})
	}
	return out
}

func (i *Inspector) bridges() []bridgeView {
	if i.opts.Bridges == nil {
		return []bridgeView{}
	}
	return i.bridgeRates.views(i.opts.Bridges(), time.Now())
}

// bridgeCollector exports the bridges' state and counters.
type bridgeCollector struct{ f func() []Bridge }

var (
	descBridgeUp = prometheus.NewDesc("mqtls_bridge_connected",
		"1 while the bridge is connected to its remote broker, else 0.", []string{"bridge"}, nil)
	descBridgeQueued = prometheus.NewDesc("mqtls_bridge_queued_messages",
		"Messages the broker holds for the bridge: in flight to the remote broker, or waiting for it.", []string{"bridge"}, nil)
	descBridgeMsgs = prometheus.NewDesc("mqtls_bridge_messages_total",
		"Messages forwarded by the bridge and acknowledged by the other side, by direction (out: to the remote broker).", []string{"bridge", "direction"}, nil)
	descBridgeDropped = prometheus.NewDesc("mqtls_bridge_dropped_messages_total",
		"Messages the bridge did not forward: over bridge_max_packet_size, or QoS 0 beyond its backlog.", []string{"bridge"}, nil)
)

func (c *bridgeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descBridgeUp
	ch <- descBridgeQueued
	ch <- descBridgeMsgs
	ch <- descBridgeDropped
}

func (c *bridgeCollector) Collect(ch chan<- prometheus.Metric) {
	for _, b := range c.f() {
		up := 0.0
		if b.State == "connected" {
			up = 1
		}
		ch <- prometheus.MustNewConstMetric(descBridgeUp, prometheus.GaugeValue, up, b.Name)
		ch <- prometheus.MustNewConstMetric(descBridgeQueued, prometheus.GaugeValue, float64(b.Queued), b.Name)
		ch <- prometheus.MustNewConstMetric(descBridgeMsgs, prometheus.CounterValue, float64(b.Sent), b.Name, "out")
		ch <- prometheus.MustNewConstMetric(descBridgeMsgs, prometheus.CounterValue, float64(b.Received), b.Name, "in")
		ch <- prometheus.MustNewConstMetric(descBridgeDropped, prometheus.CounterValue, float64(b.Dropped), b.Name)
	}
}
