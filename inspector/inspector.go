package inspector

import (
	"errors"
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net/http"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"

	"mqtls/dynsec"
	"mqtls/topic"
)

// Defaults for [Options]. With them the tap's topics hold at most 64 MiB,
// whatever the topics' names, payloads and histories; see [Options.Bound].
const (
	DefaultMaxTopics    = 10000
	DefaultMaxBytes     = 64 << 20
	DefaultPayloadBytes = 4096
	DefaultHistory      = 100
	DefaultInterval     = 250 * time.Millisecond
)

// Options bound the tap's memory and set how the page behaves.
type Options struct {
	// MaxTopics caps the number of topics kept (conf inspector_max_topics).
	MaxTopics int
	// MaxBytes caps in bytes everything the topics hold: each topic's
	// state, name and map entry, every message of its history with its
	// payload, properties and publisher, its chart samples and its lint
	// findings (conf inspector_max_bytes).
	MaxBytes int64
	// PayloadBytes caps each stored payload; longer payloads are cut and
	// the page says so (conf inspector_payload_bytes).
	PayloadBytes int
	// History is the number of messages kept per topic, at least 2 (conf
	// inspector_history). They share MaxBytes with the chart's samples
	// and the topics' state: when it is reached, the least recently
	// updated topics' histories are halved first (down to their last two
	// messages), then the least recently updated topics go.
	History int
	// Interval is how often the page receives a batch of updates.
	Interval time.Duration
	// RequireLogin makes the page ask for a dynsec client whose roles grant
	// $CONTROL/dynamic-security/#, unless the request carries a verified
	// client certificate. Set it when the page listens beyond loopback.
	RequireLogin bool
	// Control, when set, runs one $CONTROL/dynamic-security/v1 request
	// and returns its response, for the Access view; the page checks the
	// user's right to publish there first. The broker's Control also
	// publishes the response on $CONTROL/dynamic-security/v1/response, as
	// for an MQTT request.
	Control func(request []byte) []byte
	// Explain, when set, says which role and ACL decide an access, as
	// `mqtls dynsec check` does.
	Explain func(username, clientID, topic string, access dynsec.Access) (allow bool, explanation string)
	// CertStatus, when set, tells for each user name whether the broker's
	// PKI (conf enroll_pki) holds a certificate with that CN: "valid",
	// "revoked", "expired", "not yet valid", "superseded" (replaced by a
	// renewal) or "none", for the Access view's client list. It is called
	// once per listing with every name shown, so it should re-read the
	// PKI only when the PKI changed.
	CertStatus func(usernames []string) (map[string]string, error)
	// Roles, when set, names a client's roles for the clients panel.
	Roles func(username string) []string
	// Metrics serves Prometheus metrics at /metrics (conf metrics true).
	Metrics bool
	// MetricsPublic serves /metrics and /healthz to any request, whatever
	// its Host header and without a login (conf metrics_public true); by
	// default they follow the page's rules.
	MetricsPublic bool
	// CRLUpdated, when set, gives the thisUpdate time of the oldest CRL in
	// force for the mqtls_crl_age_seconds metric (zero: no CRL loaded).
	CRLUpdated func() time.Time
	// Collectors are more metrics served at /metrics (enrollment's).
	Collectors []prometheus.Collector
	// Bridges, when set, reports the broker's bridges for the clients
	// panel and the mqtls_bridge_* metrics.
	Bridges func() []Bridge
	// Scheme, when set, is the topic scheme the broker enforces: the page
	// refuses to publish outside it, with the reason, as the broker would
	// refuse an MQTT client (its scheme check leaves the page's own
	// publishes alone). Clearing a retained message is not checked.
	Scheme *topic.Scheme
	// Logger receives the page's diagnostics; nil discards them.
	Logger *slog.Logger
}

func (o *Options) fill() error {
	if o.MaxTopics < 0 || o.MaxBytes < 0 || o.PayloadBytes < 0 || o.History < 0 || o.Interval < 0 {
		return errors.New("inspector limits must not be negative")
	}
	if o.MaxTopics == 0 {
		o.MaxTopics = DefaultMaxTopics
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.PayloadBytes == 0 {
		o.PayloadBytes = DefaultPayloadBytes
	}
	if o.History == 0 {
		o.History = DefaultHistory
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Bound is the most memory, in bytes, that the tap's topics can hold with
// these options: MaxBytes, which counts every byte of every topic, the
// ring of recently removed names that pages catch up from, and the
// set-wide lint findings cached per viewer. Each publishing goroutine may
// overrun it by one message while it makes room. Each open stream of the
// page adds at most two map entries per held topic, whose names are the
// store's.
func (o Options) Bound() int64 { return o.MaxBytes + goneRingBytes + setLintBytes }

// Inspector is the tap, the page and the metrics of one broker.
type Inspector struct {
	srv     *mqtt.Server
	authz   dynsec.Authorizer
	opts    Options
	store   *store
	tap     *tap
	metrics *metrics
	auth    *sessions
	logins  *loginLimiter
	inline  *mqtt.Client
	mux     *http.ServeMux
	started chan struct{}
	setLint setLint
	// injectMu makes the page's publishes one at a time (see inject).
	injectMu sync.Mutex
	// bridgeRates turns the bridges' counters into rates.
	bridgeRates bridgeRates
}

// InlineClientID is the client id the page publishes with.
const InlineClientID = "mqtls-inspector"

// New builds the inspector of srv. authz decides what a logged-in page user
// may publish and kick; it may be nil only when RequireLogin is off.
// Add [Inspector.Hook] to srv before it serves.
func New(srv *mqtt.Server, authz dynsec.Authorizer, opts Options) (*Inspector, error) {
	if srv == nil {
		return nil, errors.New("inspector: no server")
	}
	if err := opts.fill(); err != nil {
		return nil, err
	}
	if opts.RequireLogin && authz == nil {
		return nil, errors.New("inspector: a login is required but the broker has no access control to check it against")
	}
	i := &Inspector{
		srv:     srv,
		authz:   authz,
		opts:    opts,
		store:   newStore(opts.MaxTopics, opts.MaxBytes),
		auth:    newSessions(),
		logins:  newLoginLimiter(),
		started: make(chan struct{}),
	}
	i.inline = srv.NewClient(nil, "inspector", InlineClientID, true)
	i.tap = &tap{i: i, stop: make(chan struct{})}
	m, err := newMetrics(i)
	if err != nil {
		return nil, fmt.Errorf("inspector metrics: %w", err)
	}
	i.metrics = m
	i.mux = i.routes()
	return i, nil
}

// Started is closed once the server has started and the tap holds the
// retained messages it restored: serve the page after it.
func (i *Inspector) Started() <-chan struct{} { return i.started }

// Hook is the tap to add to the server with srv.AddHook(i.Hook(), nil).
func (i *Inspector) Hook() mqtt.Hook { return i.tap }

// Handler serves the page, its API, /metrics and /healthz.
func (i *Inspector) Handler() http.Handler { return i.mux }

// Options returns the options in force, defaults filled in.
func (i *Inspector) Options() Options { return i.opts }

// Topics is the number of topics held.
func (i *Inspector) Topics() int { return int(i.store.count.Load()) }

// NoteTLSHandshakeFailure counts a failed TLS handshake on an MQTT listener.
func (i *Inspector) NoteTLSHandshakeFailure() { i.tap.tlsFailures.Add(1) }

// NoteACLDenial counts an ACL denial the wire does not show: a QoS 0
// publish or a delivery. Denied SUBSCRIBEs and QoS 1/2 PUBLISHes are counted
// by the tap from the SUBACK and PUBACK codes; do not report those here.
func (i *Inspector) NoteACLDenial(access dynsec.Access) {
	if int(access) < len(i.tap.aclDenied) {
		i.tap.aclDenied[access].Add(1)
	}
}
