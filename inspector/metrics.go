package inspector

import (
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// metrics is the Prometheus view of the broker. Every value is read at
// scrape time from mochi's counters or the tap's, so the publish path pays
// for atomics only.
type metrics struct {
	reg *prometheus.Registry
}

func newMetrics(i *Inspector) (*metrics, error) {
	reg := prometheus.NewRegistry()
	info := i.srv.Info
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "mqtls", Name: name, Help: help}, f)
	}
	counter := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "mqtls", Name: name, Help: help}, f)
	}
	load := func(p *int64) func() float64 { return func() float64 { return float64(atomic.LoadInt64(p)) } }
	cs := []prometheus.Collector{
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		gauge("connections", "Connected MQTT clients.", load(&info.ClientsConnected)),
		gauge("sessions_disconnected", "Persistent sessions whose client is not connected.", load(&info.ClientsDisconnected)),
		gauge("retained_messages", "Retained messages held.", load(&info.Retained)),
		gauge("subscriptions", "Active subscriptions.", load(&info.Subscriptions)),
		gauge("inflight_messages", "QoS 1 and 2 messages in flight.", load(&info.Inflight)),
		counter("received_bytes_total", "Bytes received from MQTT clients.", load(&info.BytesReceived)),
		counter("sent_bytes_total", "Bytes sent to MQTT clients.", load(&info.BytesSent)),
		counter("dropped_messages_total", "Messages dropped because a subscriber was too slow.", load(&info.MessagesDropped)),
		counter("tls_handshake_failures_total", "Failed TLS handshakes on MQTT listeners; on TLS (not wss) listeners, connections that send nothing, such as port probes, are not counted.",
			func() float64 { return float64(i.tap.tlsFailures.Load()) }),
		gauge("inspector_topics", "Topics the inspector holds.", func() float64 { return float64(i.store.count.Load()) }),
		counter("inspector_evicted_topics_total", "Topics the inspector dropped to stay within inspector_max_topics.",
			func() float64 { return float64(i.store.evicted.Load()) }),
		&tapCollector{t: i.tap},
	}
	if i.opts.CRLUpdated != nil {
		cs = append(cs, gauge("crl_age_seconds", "Seconds since the CRL in force was issued.", func() float64 {
			t := i.opts.CRLUpdated()
			if t.IsZero() {
				return math.NaN()
			}
			return time.Since(t).Seconds()
		}))
	}
	cs = append(cs, i.opts.Collectors...)
	if i.opts.Bridges != nil {
		cs = append(cs, &bridgeCollector{f: i.opts.Bridges})
	}
	for _, c := range cs {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return &metrics{reg: reg}, nil
}

// tapCollector exports the tap's labelled counters.
type tapCollector struct{ t *tap }

var (
	descIn = prometheus.NewDesc("mqtls_messages_received_total",
		"PUBLISH messages accepted from clients (and wills), by QoS.", []string{"qos"}, nil)
	descOut = prometheus.NewDesc("mqtls_messages_sent_total",
		"PUBLISH messages delivered to clients, by QoS.", []string{"qos"}, nil)
	descAuth = prometheus.NewDesc("mqtls_auth_failures_total",
		"Refused CONNECTs, by reason.", []string{"reason"}, nil)
	descACL = prometheus.NewDesc("mqtls_acl_denials_total",
		"Denied publishes, subscriptions and deliveries, by access.", []string{"access"}, nil)
)

var accessNames = [...]string{1: "publish", 2: "receive", 3: "subscribe", 4: "unsubscribe"}

func (c *tapCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descIn
	ch <- descOut
	ch <- descAuth
	ch <- descACL
}

func (c *tapCollector) Collect(ch chan<- prometheus.Metric) {
	for q := range 3 {
		l := strconv.Itoa(q)
		ch <- prometheus.MustNewConstMetric(descIn, prometheus.CounterValue, float64(c.t.in[q].Load()), l)
		ch <- prometheus.MustNewConstMetric(descOut, prometheus.CounterValue, float64(c.t.out[q].Load()), l)
	}
	c.t.authFailed.Range(func(k, v any) bool {
		ch <- prometheus.MustNewConstMetric(descAuth, prometheus.CounterValue, float64(v.(*atomic.Uint64).Load()), k.(string))
		return true
	})
	for a := 1; a < len(accessNames); a++ {
		ch <- prometheus.MustNewConstMetric(descACL, prometheus.CounterValue, float64(c.t.aclDenied[a].Load()), accessNames[a])
	}
}
