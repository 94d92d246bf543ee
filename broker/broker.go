// Package broker is the secure MQTT broker: mochi-mqtt's server started from
// a [conf.Config], with listeners that bound the TLS handshake and CONNECT in
// time, certificate identities (CN or subject as username), CRLs reloaded
// without a restart, one hook that asks a [dynsec.Authorizer] about every
// connect, subscribe, publish, will and delivery, and durable persistence.
//
// # Durability
//
// The rule: a PUBACK or PUBREC is sent only after the message is on disk
// for every subscriber that must get it. What is durable (package store,
// one pebble database written by one ordered writer with group commit):
//
//   - sessions and their granted subscriptions: the session (and, for a
//     clean start, the deletion of the old session's state) is on disk
//     before the CONNACK goes out, and a client can be reached by
//     publishers only after it; a subscription or its removal before the
//     SUBACK or UNSUBACK;
//   - retained messages and the entry of every subscriber (online or
//     queued for an offline session) of a QoS 1/2 publish, and for QoS 2
//     the publisher's packet id awaiting PUBREL: all in one atomic write
//     per publish, after which the acknowledgement goes out (inbound.go);
//   - the PUBREL phase of an outgoing QoS 2 message, written when the
//     subscriber's PUBREC arrives and before the PUBREL is sent; an
//     outgoing QoS 2 PUBLISH is not sent before its entry is on disk;
//     QoS 1 deliveries do not wait (a duplicate is allowed);
//   - the completion of a message (PUBACK/PUBCOMP from the subscriber, the
//     PUBREL of the publisher: its PUBCOMP waits for the removal).
//
// A restart rebuilds, through mochi's loaders and the store hook: sessions
// and subscriptions, retained messages, each session's messages in flight
// with their phase, in arrival order (entries are keyed by a sequence, not
// a second), and the inbound QoS 2 ids, so that a retried PUBLISH gets
// PUBREC 0 and is not delivered again. persistence_sync chooses batch
// (default), always or none; see package store.
//
// # Lifecycle
//
//	b, err := broker.New(cfg, logger, broker.Options{})
//	err = b.Start()   // listeners are up when it returns
//	...
//	b.Close()         // stops the listeners, flushes the store
package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"strconv"
	"sync"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/listeners"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/bridge"
	"mqtls/broker/store"
	"mqtls/conf"
	"mqtls/dynsec"
)

// DefaultMaxPacketSize bounds every packet unless max_packet_size says
// otherwise, so that a hostile CONNECT cannot make the broker allocate more.
const DefaultMaxPacketSize = 1 << 20

// clientReadBufferSize is the size of mochi's per-client read buffer (see
// BENCHMARKS.md, memory per idle connection).
const clientReadBufferSize = 2048

// DefaultConnectTimeout bounds the TLS handshake plus the CONNECT packet.
const DefaultConnectTimeout = 10 * time.Second

// Options are the parts of a broker that do not come from the config file.
type Options struct {
	// Hooks are added after the broker's own auth/ACL hook, in order. They
	// must not answer OnConnectAuthenticate or OnACLCheck: mochi ORs those,
	// so any "true" from another hook would widen access.
	Hooks []mqtt.Hook
	// ConnectTimeout bounds the TLS handshake and the CONNECT packet after
	// accept; 0 means DefaultConnectTimeout.
	ConnectTimeout time.Duration
	// Authorizer, when set, replaces what the config's security options
	// would build, for every listener.
	Authorizer dynsec.Authorizer
}

// Broker is a configured mochi server.
type Broker struct {
	cfg    *conf.Config
	log    *slog.Logger
	opts   Options
	server *mqtt.Server

	// listeners by mochi listener id.
	lis   map[string]*listenerState
	order []*listenerState
	// global is the authorizer of per_listener_settings false.
	global dynsec.Authorizer
	// hooks are the hooks in the hook loop, in its order (addHook), for the
	// end of a connection that mochi leaves unfinished (unanswered.go).
	hooks      []mqtt.Hook
	unanswered *unansweredHook
	reload     []func() error
	// dynsec is set when the dynamic security plugin is configured.
	dynsec *dynsecState

	// scheme is set when topic_scheme is configured.
	scheme *schemeHook
	// retained bounds the retained messages (nil: max_retained_bytes 0).
	retained *retainHook
	// store holds the durable state (nothing without persistence).
	store     *store.Store
	storeHook *store.Hook
	wildcard  *wildcardHook
	queue     *queueHook
	loop      *hookLoop     // all the hooks below, as mochi's one hook
	packets   *packetHooks  // our OnPacketRead and OnPacketEncode, as one hook
	publish   *publishHooks // our OnPublish judges, as one hook
	// bridges are the connection blocks, started with the broker.
	bridges []*bridge.Bridge

	closeOnce sync.Once
	done      chan struct{}
	obs       Observer
	// enroller answers enrollment requests (enrollment listeners only).
	enroller Enroller
	// debug is set when the log takes debug lines: the per-message
	// paths format a line only then.
	debug bool
}

// listenerState is what the hook needs to know about a listener.
type listenerState struct {
	conf     *conf.Listener
	id       string
	auth     dynsec.Authorizer // nil: no access control configured
	anon     bool              // allow_anonymous
	crl      *crlChecker
	net      listeners.Listener
	addr     string
	identity bool // use_identity_as_username or use_subject_as_username
	// noControl is set on the listeners that dynamic security does not
	// govern while another one has it (per_listener_settings true): their
	// clients may not publish to, subscribe to or receive $CONTROL topics.
	noControl bool
}

// New builds a broker from cfg; nothing listens until Start.
func New(cfg *conf.Config, log *slog.Logger, opts Options) (*Broker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	// Every line the broker and mochi write passes the filter that keeps
	// passwords, packets and payloads out of the log.
	log = slog.New(newRedactHandler(log.Handler(), cfg.LogPayloads))
	if opts.ConnectTimeout == 0 {
		opts.ConnectTimeout = DefaultConnectTimeout
	}
	b := &Broker{cfg: cfg, log: log, opts: opts, lis: map[string]*listenerState{}, done: make(chan struct{}),
		debug: log.Enabled(context.Background(), slog.LevelDebug)}
	b.queue = newQueueHook(b)
	ok := false
	defer func() {
		if !ok && b.dynsec != nil {
			b.dynsec.lock.Unlock()
		}
		if !ok && b.store != nil {
			b.store.Close()
		}
	}()
	b.server = mqtt.New(&mqtt.Options{
		Capabilities:             capabilities(cfg),
		Logger:                   slog.New(quotaLines{mochiLogger(log).Handler(), b.queue}),
		InlineClient:             true,
		ClientNetWriteBufferSize: 4096,
		// The read buffer is allocated for every client when it connects
		// and held while it is idle. 2 KiB holds a burst of small packets;
		// a larger packet is read past it, straight into its own buffer.
		ClientNetReadBufferSize: clientReadBufferSize,
		SysTopicResendInterval:  sysInterval(cfg.SysInterval),
	})
	var err error
	if opts.Authorizer != nil {
		b.global = opts.Authorizer
	} else if !cfg.PerListenerSettings {
		if b.global, err = b.authorizerFor(cfg.Security); err != nil {
			return nil, err
		}
	}
	cls := cfg.Listeners
	if len(cls) == 0 {
		// Mosquitto 2.0 without a listener: port 1883 on the loopback
		// interface only.
		cls = []*conf.Listener{{Port: 1883, Bind: "127.0.0.1", Protocol: "mqtt", MaxConnections: -1}}
	}
	for _, cl := range cls {
		ls, err := b.listenerState(cl)
		if err != nil {
			return nil, err
		}
		b.lis[ls.id] = ls
		b.order = append(b.order, ls)
	}
	if b.dynsec != nil {
		for _, ls := range b.order {
			ls.noControl = ls.auth != dynsec.Authorizer(b.dynsec.store)
		}
	}
	if err := b.checkEnrollment(); err != nil {
		return nil, err
	}
	// Every hook added below runs inside this one (hookLoop).
	b.loop = newHookLoop(b.server)
	if err := b.server.AddHook(b.loop, nil); err != nil {
		return nil, fmt.Errorf("add hook loop: %w", err)
	}
	// Our hooks' OnPacketRead and OnPacketEncode, in the order they are
	// added below, run inside this one.
	b.packets = new(packetHooks)
	if err := b.addHook(b.packets, nil); err != nil {
		return nil, fmt.Errorf("add packet hook: %w", err)
	}
	b.unanswered = &unansweredHook{b: b}
	if err := b.addHook(b.unanswered, nil); err != nil {
		return nil, fmt.Errorf("add unanswered hook: %w", err)
	}
	// The limits come first: no other hook may work on a packet they refuse.
	if err := b.addHook(b.packets.add(newLimitsHook(b)), nil); err != nil {
		return nil, fmt.Errorf("add limits hook: %w", err)
	}
	if b.mounted() {
		// packetHooks runs all it does: given to mochi, it would only be
		// asked about every event of every packet.
		b.packets.add(&mountHook{b: b})
	}
	// Before the auth hook, so that the companion filters it adds to a
	// SUBSCRIBE are checked as subscriptions, not as deliveries.
	b.wildcard = newWildcardHook()
	if err := b.addHook(b.packets.add(b.wildcard), nil); err != nil {
		return nil, fmt.Errorf("add wildcard hook: %w", err)
	}
	// Our OnPublish judges, in the order they are added below, run inside
	// this one.
	b.publish = new(publishHooks)
	if err := b.addHook(b.publish, nil); err != nil {
		return nil, fmt.Errorf("add publish hook: %w", err)
	}
	if err := b.addHook(b.publish.add(b.packets.add(&authHook{b: b})), nil); err != nil {
		return nil, fmt.Errorf("add auth hook: %w", err)
	}
	if b.retained = newRetainHook(b); b.retained != nil {
		if err := b.addHook(b.publish.add(b.packets.add(b.retained)), nil); err != nil {
			return nil, fmt.Errorf("add retained hook: %w", err)
		}
	}
	if err := b.addHook(b.publish.add(b.packets.add(&clientOptsHook{b: b})), nil); err != nil {
		return nil, fmt.Errorf("add client options hook: %w", err)
	}
	// Before the fidelity hook, which clears the bridge bit of a CONNECT.
	if err := b.addHook(b.packets.add(&bridgeClientHook{}), nil); err != nil {
		return nil, fmt.Errorf("add bridge client hook: %w", err)
	}
	if err := b.addHook(b.packets.add(newFidelityHook(cfg, b.server)), nil); err != nil {
		return nil, fmt.Errorf("add fidelity hook: %w", err)
	}
	if err := b.addHook(b.packets.add(&packetIDHook{}), nil); err != nil {
		return nil, fmt.Errorf("add packet id hook: %w", err)
	}
	if err := b.addHook(b.packets.add(newBackpressureHook(b.server)), nil); err != nil {
		return nil, fmt.Errorf("add backpressure hook: %w", err)
	}
	if err := b.addHook(b.packets.add(b.queue), nil); err != nil {
		return nil, fmt.Errorf("add queue hook: %w", err)
	}
	if err := b.addScheme(); err != nil {
		return nil, err
	}
	if err := b.addPersistence(); err != nil {
		return nil, err
	}
	// After the hooks that may clear a will in OnConnect (scheme).
	if err := b.addHook(b.packets.add(newWillHook(b.server)), nil); err != nil {
		return nil, fmt.Errorf("add will hook: %w", err)
	}
	for _, h := range opts.Hooks {
		if err := b.AddHook(h, nil); err != nil {
			return nil, err
		}
	}
	if err := b.addBridges(); err != nil {
		return nil, err
	}
	ok = true
	return b, nil
}

// sysInterval is mochi's $SYS period for sys_interval; 0 (never) becomes
// a period longer than any broker runs.
func sysInterval(n int) int64 {
	if n <= 0 {
		return 1 << 32
	}
	return int64(n)
}

// capabilities maps the config's limits onto mochi's.
func capabilities(cfg *conf.Config) *mqtt.Capabilities {
	c := mqtt.NewDefaultServerCapabilities()
	c.MaximumPacketSize = DefaultMaxPacketSize
	if cfg.MaxPacketSize > 0 {
		c.MaximumPacketSize = uint32(cfg.MaxPacketSize)
	}
	// mochi deletes retained and queued messages older than this; 0 keeps
	// them until a message's own expiry says otherwise.
	c.MaximumMessageExpiryInterval = 0
	// QoS 0 messages beyond a client's write queue are dropped; QoS 1/2
	// messages are bounded per client by the queue hook, not by mochi.
	c.MaximumClientWritesPending = writesPending(cfg)
	c.MaximumInflight = maxInflight(cfg)
	if cfg.MaxInflightMessages > 0 {
		c.ReceiveMaximum = uint16(cfg.MaxInflightMessages)
	} else if cfg.MaxInflightMessages == 0 {
		c.ReceiveMaximum = math.MaxUint16
	}
	if !cfg.RetainAvailable {
		c.RetainAvailable = 0
	}
	// A v3 session with clean session false, or a v5 one without a session
	// expiry interval, is kept for this long (persistent_client_expiration).
	if cfg.PersistentClientExpiration > 0 {
		c.MaximumSessionExpiryInterval = uint32(min(cfg.PersistentClientExpiration, math.MaxUint32-1))
	}
	// An acknowledgement carries its reason code (and a reason string),
	// never the properties of the packet it answers.
	c.Compatibilities.NoInheritedPropertiesOnAck = true
	// Aliases above max_topic_alias are refused (DISCONNECT 0x94).
	c.TopicAliasMaximum = uint16(cfg.MaxTopicAlias)
	return c
}

// authorizerFor builds the access control of one set of security options.
func (b *Broker) authorizerFor(sec conf.Security) (dynsec.Authorizer, error) {
	if len(sec.Plugins) > 0 {
		if sec.PasswordFile != "" || sec.ACLFile != "" {
			return nil, fmt.Errorf("plugin %s: use dynamic security or password_file/acl_file, not both", sec.Plugins[0].Path)
		}
		return b.loadDynsec(sec.Plugins[0])
	}
	if sec.PasswordFile == "" && sec.ACLFile == "" {
		return nil, nil
	}
	fa, err := newFileAuth(sec.PasswordFile, sec.ACLFile)
	if err != nil {
		return nil, err
	}
	b.reload = append(b.reload, fa.reload)
	return fa, nil
}

func (b *Broker) listenerState(cl *conf.Listener) (*listenerState, error) {
	ls := &listenerState{conf: cl, id: listenerID(cl), identity: cl.UseIdentityAsUsername || cl.UseSubjectAsUsername}
	sec := b.cfg.SecurityFor(cl)
	ls.anon = sec.AllowAnonymous != nil && *sec.AllowAnonymous
	if len(b.cfg.Listeners) == 0 {
		ls.anon = true // Mosquitto's local-only default mode
	}
	// The CRL is loaded here, not in Start, so that it is in force (and
	// readable by metrics) from the moment the broker exists.
	if cl.TLS() && cl.CRLFile != "" {
		_, cas, err := loadCAs(cl.CAFile)
		if err != nil {
			return nil, fmt.Errorf("listener %d: %w", cl.Port, err)
		}
		if ls.crl, err = newCRLChecker(cl.CRLFile, cas, b.log); err != nil {
			return nil, fmt.Errorf("listener %d: %w", cl.Port, err)
		}
	}
	ls.auth = b.global
	if b.cfg.PerListenerSettings && b.opts.Authorizer == nil {
		a, err := b.authorizerFor(sec)
		if err != nil {
			return nil, fmt.Errorf("listener %d: %w", cl.Port, err)
		}
		ls.auth = a
	}
	return ls, nil
}

// listenerID names a listener for mochi and in persisted sessions.
func listenerID(l *conf.Listener) string {
	return net.JoinHostPort(l.Bind, strconv.Itoa(l.Port))
}

// AddHook adds a hook after the broker's own, before Start: for hooks that
// need [Broker.Server] to be built. The same rule as [Options.Hooks] holds.
func (b *Broker) AddHook(h mqtt.Hook, config any) error {
	if h.Provides(mqtt.OnConnectAuthenticate) || h.Provides(mqtt.OnACLCheck) {
		return fmt.Errorf("hook %s answers authentication or ACL checks: mochi ORs those answers, so only the broker's own hook may", h.ID())
	}
	if err := b.addHook(h, config); err != nil {
		return fmt.Errorf("add hook %s: %w", h.ID(), err)
	}
	return nil
}

// addHook adds h to the broker's hook loop, which mochi holds as one
// hook, and notes it in b.hooks.
func (b *Broker) addHook(h mqtt.Hook, config any) error {
	if err := b.loop.add(h, config); err != nil {
		return err
	}
	b.hooks = append(b.hooks, h)
	return nil
}

// Start opens every listener and starts serving; it returns once they all
// accept connections.
func (b *Broker) Start() error {
	if err := b.startEnrollment(); err != nil {
		return err
	}
	for _, ls := range b.order {
		if err := b.openListener(ls); err != nil {
			b.closeListeners()
			return err
		}
	}
	if err := b.server.Serve(); err != nil {
		b.closeListeners()
		return fmt.Errorf("start broker: %w", err)
	}
	for _, ls := range b.order {
		if ls.crl != nil {
			go b.watchCRL(ls)
		}
	}
	for _, br := range b.bridges {
		br.Start()
	}
	return nil
}

func (b *Broker) openListener(ls *listenerState) error {
	cl := ls.conf
	addr := net.JoinHostPort(cl.Bind, strconv.Itoa(cl.Port))
	var tc *tls.Config
	if cl.TLS() {
		kp, err := newKeyPair(cl)
		if err != nil {
			return err
		}
		b.reload = append(b.reload, kp.reload)
		c, err := tlsConfig(cl, ls.crl, kp)
		if err != nil {
			return err
		}
		tc = c
	}
	network := "tcp"
	switch cl.SocketDomain {
	case "ipv4":
		network = "tcp4"
	case "ipv6":
		network = "tcp6"
	}
	nl, err := net.Listen(network, addr)
	if err != nil {
		return fmt.Errorf("listener %d: %w", cl.Port, err)
	}
	ls.addr = nl.Addr().String()
	var l listeners.Listener
	if cl.Protocol == "websockets" {
		w := newWSListener(ls.id, nl, tc, b.opts.ConnectTimeout, cl.MaxConnections, b.log)
		w.stopClients = b.stopClients
		w.onHandshakeFailure = b.obs.HandshakeFailure
		w.maxPacket = b.server.Options.Capabilities.MaximumPacketSize
		w.settle = b.unanswered.settle
		l = w
	} else {
		g := newGuardedListener(ls.id, nl, tc, b.opts.ConnectTimeout, cl.MaxConnections, b.log)
		g.stopClients = b.stopClients
		g.onHandshakeFailure = b.obs.HandshakeFailure
		g.maxPacket = b.server.Options.Capabilities.MaximumPacketSize
		g.settle = b.unanswered.settle
		l = g
	}
	ls.net = l
	if err := b.server.AddListener(l); err != nil {
		nl.Close()
		return fmt.Errorf("listener %d: %w", cl.Port, err)
	}
	kind := l.Protocol()
	b.log.Info(fmt.Sprintf("Opening %s listen socket on %s.", kind, ls.addr))
	return nil
}

// stopClients closes the live clients of one listener at shutdown.
func (b *Broker) stopClients(id string) {
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Listener == id && !cl.Closed() {
			cl.Stop(packets.ErrServerShuttingDown)
		}
	}
}

func (b *Broker) closeListeners() {
	for _, ls := range b.order {
		if ls.net != nil {
			ls.net.Close(b.stopClients)
		}
	}
}

// Addrs returns the address each listener listens on, in config order.
func (b *Broker) Addrs() []string {
	var out []string
	for _, ls := range b.order {
		out = append(out, ls.addr)
	}
	return out
}

// Server returns the mochi server, for hooks that need it.
func (b *Broker) Server() *mqtt.Server { return b.server }

// Authorizer returns the access control of per_listener_settings false (or
// of the first listener), nil when none is configured.
func (b *Broker) Authorizer() dynsec.Authorizer {
	if b.global != nil || len(b.order) == 0 {
		return b.global
	}
	return b.order[0].auth
}

// Kick disconnects every live session of username ("" means anonymous
// clients) with v5 reason 0x98 (administrative action), as Mosquitto's
// dynamic security kick does; v3 clients are just disconnected. Sessions
// are kept, as Mosquitto's kick does.
func (b *Broker) Kick(username string) {
	for _, cl := range b.server.Clients.GetAll() {
		if cl.Net.Inline || cl.Closed() || string(cl.Properties.Username) != username {
			continue
		}
		b.log.Info(fmt.Sprintf("Client %s (u'%s') kicked: access changed.", cl.ID, username))
		go func() { _ = b.server.DisconnectClient(cl, packets.ErrAdministrativeAction) }()
	}
}

// Reload re-reads the CRLs, the password and ACL files and the servers'
// certfile and keyfile (SIGHUP).
// A file that fails to load is logged and its previous contents stay.
func (b *Broker) Reload() {
	for _, f := range b.reload {
		if err := f(); err != nil {
			b.log.Error("reload: " + err.Error())
		}
	}
	for _, ls := range b.order {
		if ls.crl != nil {
			b.reloadCRL(ls, true)
		}
	}
}

// Close stops every listener, disconnects the clients and closes the store.
func (b *Broker) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		for _, br := range b.bridges {
			br.Close()
		}
		err = b.server.Close()
		if errors.Is(err, net.ErrClosed) {
			err = nil
		}
		if b.store != nil {
			if serr := b.store.Close(); serr != nil && err == nil {
				err = serr
			}
		}
		if b.dynsec != nil {
			b.dynsec.lock.Unlock()
		}
	})
	return err
}
