package conf

import (
	"fmt"
	"net"
	"strconv"
	"strings"
)

// Bridge is one "connection NAME" block: a connection to a remote broker
// with Mosquitto 2.0's bridge options and defaults.
type Bridge struct {
	// File and Line are where the connection line is.
	File string
	Line int
	// Name is the connection's name.
	Name string
	// Addresses in file order, each HOST:PORT (port 1883 when not given).
	Addresses []string
	// RoundRobin treats the addresses as equals; false (the default) makes
	// the first the main one, to which the bridge returns when it can.
	RoundRobin bool
	// Topics in file order.
	Topics []BridgeTopic
	// RemoteClientID is the client id on the remote broker ("" means
	// HOSTNAME.NAME, as in Mosquitto); LocalClientID the one on this
	// broker ("" means local.REMOTE_CLIENTID).
	RemoteClientID string
	LocalClientID  string
	// RemoteUsername and RemotePassword log in to the remote broker;
	// RemotePasswordFile (mqtls) holds the password instead.
	RemoteUsername     string
	RemotePassword     string
	RemotePasswordFile string
	// ProtocolVersion is "mqttv311" (default), "mqttv31" or "mqttv50".
	ProtocolVersion string
	// CleanSession is the remote session's clean session flag (default
	// false); LocalCleanSession the local one's (nil: as CleanSession).
	CleanSession      bool
	LocalCleanSession *bool
	// Keepalive in seconds (default 60, at least 5).
	Keepalive int
	// RestartBase and RestartCap are restart_timeout's jitter bounds in
	// seconds (defaults 5 and 30); RestartCap 0 means a constant
	// RestartBase.
	RestartBase int
	RestartCap  int
	// Once is start_type once: no restart after the connection fails.
	Once bool
	// Lazy is start_type lazy: the bridge disconnects after IdleTimeout
	// seconds without a message forwarded (default 60) and connects again
	// once Threshold messages (default 10) are queued for it.
	Lazy        bool
	IdleTimeout int
	Threshold   int
	// TryPrivate marks the bridge's CONNECT as a bridge's (default true).
	TryPrivate bool
	// Notifications publishes the connection state (default true), at
	// NotificationTopic ("" means $SYS/broker/connection/REMOTE_CLIENTID/state),
	// on both brokers unless NotificationsLocalOnly.
	Notifications          bool
	NotificationsLocalOnly bool
	NotificationTopic      string
	// AttemptUnsubscribe unsubscribes out-only topics on the remote
	// broker (default true); OutgoingRetain keeps the retain flag of what
	// goes out (default true).
	AttemptUnsubscribe bool
	OutgoingRetain     bool
	// TLS: CAFile turns it on.
	CAFile     string
	CertFile   string
	KeyFile    string
	Insecure   bool
	TLSVersion string
	ALPN       string
	// BindAddress is the local address the bridge connects from.
	BindAddress string
	// MaxPacketSize bounds what is sent to the remote broker (0: none).
	MaxPacketSize int
}

// BridgeTopic is one "topic PATTERN [DIRECTION [QOS [LOCAL REMOTE]]]" line.
type BridgeTopic struct {
	Line         int
	Pattern      string
	Direction    string // "in", "out" or "both"
	QoS          byte
	LocalPrefix  string
	RemotePrefix string
}

// In reports whether the topic brings messages from the remote broker.
func (t BridgeTopic) In() bool { return t.Direction == "in" || t.Direction == "both" }

// Out reports whether the topic sends messages to the remote broker.
func (t BridgeTopic) Out() bool { return t.Direction == "out" || t.Direction == "both" }

// TLS reports whether the bridge connects over TLS.
func (b *Bridge) TLS() bool { return b.CAFile != "" }

func newBridge(file string, line int, name string) *Bridge {
	return &Bridge{
		File: file, Line: line, Name: name,
		ProtocolVersion: "mqttv311", Keepalive: 60, RestartBase: 5, RestartCap: 30, IdleTimeout: 60, Threshold: 10,
		TryPrivate: true, Notifications: true, AttemptUnsubscribe: true, OutgoingRetain: true,
	}
}

func (p *parser) newBridge(value string) error {
	if value == "" || strings.ContainsAny(value, " \t/+#") {
		return fmt.Errorf("want \"connection NAME\" with a name without spaces, '/', '+' or '#', got %q", value)
	}
	for _, b := range p.cfg.Bridges {
		if b.Name == value {
			return fmt.Errorf("a bridge named %q is already declared at %s:%d", value, b.File, b.Line)
		}
	}
	p.bridge = newBridge(p.file, p.line, value)
	p.cfg.Bridges = append(p.cfg.Bridges, p.bridge)
	return nil
}

// bridgeOption applies an option of the most recent connection block.
func (p *parser) bridgeOption(name, value string) error {
	b := p.bridge
	if b == nil {
		return fmt.Errorf("is a bridge option: it must follow a \"connection NAME\" line")
	}
	switch name {
	case "address", "addresses":
		return b.addAddresses(value)
	case "topic":
		t, err := parseBridgeTopic(value)
		if err != nil {
			return err
		}
		t.Line = p.line
		b.Topics = append(b.Topics, t)
	case "round_robin":
		return setBool(&b.RoundRobin, value)
	case "remote_clientid", "clientid":
		return setString(&b.RemoteClientID, value)
	case "local_clientid":
		return setString(&b.LocalClientID, value)
	case "remote_username", "username":
		return setString(&b.RemoteUsername, value)
	case "remote_password", "password":
		return setString(&b.RemotePassword, value)
	case "remote_password_file":
		return setString(&b.RemotePasswordFile, value)
	case "bridge_protocol_version":
		switch value {
		case "mqttv311", "mqttv31", "mqttv50":
			b.ProtocolVersion = value
		default:
			return fmt.Errorf("want mqttv311, mqttv31 or mqttv50, got %q", value)
		}
	case "cleansession":
		return setBool(&b.CleanSession, value)
	case "local_cleansession":
		var v bool
		if err := setBool(&v, value); err != nil {
			return err
		}
		b.LocalCleanSession = &v
	case "keepalive_interval":
		return setInt(&b.Keepalive, value, 5, 65535)
	case "restart_timeout":
		return b.restartTimeout(value)
	case "start_type":
		switch value {
		case "automatic":
		case "once":
			b.Once = true
		case "lazy":
			b.Lazy = true
		default:
			return fmt.Errorf("want automatic, lazy or once, got %q", value)
		}
	case "idle_timeout":
		return setInt(&b.IdleTimeout, value, 1, 1<<31-1)
	case "threshold":
		return setInt(&b.Threshold, value, 1, 1<<31-1)
	case "try_private":
		return setBool(&b.TryPrivate, value)
	case "notifications":
		return setBool(&b.Notifications, value)
	case "notifications_local_only":
		return setBool(&b.NotificationsLocalOnly, value)
	case "notification_topic":
		if strings.ContainsAny(value, "+#") {
			return fmt.Errorf("a notification topic may not hold '+' or '#', got %q", value)
		}
		return setString(&b.NotificationTopic, value)
	case "bridge_attempt_unsubscribe":
		return setBool(&b.AttemptUnsubscribe, value)
	case "bridge_outgoing_retain":
		return setBool(&b.OutgoingRetain, value)
	case "bridge_cafile":
		return setString(&b.CAFile, value)
	case "bridge_certfile":
		return setString(&b.CertFile, value)
	case "bridge_keyfile":
		return setString(&b.KeyFile, value)
	case "bridge_insecure":
		return setBool(&b.Insecure, value)
	case "bridge_tls_version":
		switch value {
		case "tlsv1.2", "tlsv1.3":
			b.TLSVersion = value
		case "tlsv1.1", "tlsv1":
			return fmt.Errorf("%s is not supported: TLS 1.2 is the minimum (use tlsv1.2 or tlsv1.3)", value)
		default:
			return fmt.Errorf("want tlsv1.2 or tlsv1.3, got %q", value)
		}
	case "bridge_alpn":
		return setString(&b.ALPN, value)
	case "bridge_bind_address":
		if net.ParseIP(value) == nil {
			return fmt.Errorf("want an IP address of this machine, got %q", value)
		}
		b.BindAddress = value
	case "bridge_max_packet_size":
		return setInt(&b.MaxPacketSize, value, 0, 268435455)
	case "bridge_require_ocsp":
		return onlyFalse(value, "mqtls bridges do not check OCSP")
	case "bridge_capath":
		return fmt.Errorf("%w: put the CA certificates in one file and give it as bridge_cafile", ErrUnsupported)
	case "bridge_identity", "bridge_psk":
		return fmt.Errorf("%w: pre-shared keys are not supported: give the bridge a client certificate (mqtls cert client NAME) as bridge_certfile and bridge_keyfile", ErrUnsupported)
	case "local_username", "local_password":
		p.warn("accepted and ignored: a bridge's local side is not checked against this broker's access control (its topics are the operator's)")
	}
	return nil
}

func (b *Bridge) addAddresses(value string) error {
	f := strings.Fields(value)
	if len(f) == 0 {
		return fmt.Errorf("needs HOST[:PORT]")
	}
	for _, a := range f {
		host, port := a, "1883"
		if h, p, err := net.SplitHostPort(a); err == nil {
			host, port = h, p
		} else if strings.Count(a, ":") > 1 {
			return fmt.Errorf("an IPv6 address needs its port: [%s]:1883", a)
		} else if strings.Contains(a, ":") {
			return fmt.Errorf("want HOST[:PORT], got %q", a)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || host == "" {
			return fmt.Errorf("want HOST[:PORT] with a port from 1 to 65535, got %q", a)
		}
		b.Addresses = append(b.Addresses, net.JoinHostPort(host, port))
	}
	return nil
}

func (b *Bridge) restartTimeout(value string) error {
	f := strings.Fields(value)
	bad := fmt.Errorf("want SECONDS (constant) or BASE CAP (backoff with jitter), got %q", value)
	if len(f) == 0 || len(f) > 2 {
		return bad
	}
	base, err := strconv.Atoi(f[0])
	if err != nil || base < 1 {
		return bad
	}
	b.RestartBase, b.RestartCap = base, 0
	if len(f) == 2 {
		cap, err := strconv.Atoi(f[1])
		if err != nil || cap < base {
			return fmt.Errorf("want BASE CAP with CAP at least BASE, got %q", value)
		}
		b.RestartCap = cap
	}
	return nil
}

// parseBridgeTopic reads "PATTERN [DIRECTION [QOS [LOCAL REMOTE]]]", with
// "" as the empty marker, as Mosquitto does.
func parseBridgeTopic(value string) (BridgeTopic, error) {
	f := strings.Fields(value)
	t := BridgeTopic{Direction: "out"}
	if len(f) == 0 || len(f) > 5 || len(f) == 4 {
		return t, fmt.Errorf("want \"topic PATTERN [in|out|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]]\", got %q", value)
	}
	for i := range f {
		if f[i] == `""` {
			f[i] = ""
		}
	}
	t.Pattern = f[0]
	if len(f) > 1 {
		switch f[1] {
		case "in", "out", "both":
			t.Direction = f[1]
		default:
			return t, fmt.Errorf("direction %q: want in, out or both", f[1])
		}
	}
	if len(f) > 2 {
		q, err := strconv.Atoi(f[2])
		if err != nil || q < 0 || q > 2 {
			return t, fmt.Errorf("qos %q: want 0, 1 or 2", f[2])
		}
		t.QoS = byte(q)
	}
	if len(f) == 5 {
		t.LocalPrefix, t.RemotePrefix = f[3], f[4]
	}
	for _, pre := range []string{t.LocalPrefix, t.RemotePrefix} {
		if strings.ContainsAny(pre, "+#") {
			return t, fmt.Errorf("prefix %q may not hold '+' or '#'", pre)
		}
	}
	if t.Pattern == "" && (t.LocalPrefix == "" || t.RemotePrefix == "") {
		return t, fmt.Errorf("an empty pattern needs both a local and a remote prefix (it maps one topic to another)")
	}
	for _, full := range []string{t.LocalPrefix + t.Pattern, t.RemotePrefix + t.Pattern} {
		if err := validFilter(full); err != nil {
			return t, fmt.Errorf("%q: %v", full, err)
		}
	}
	return t, nil
}

// validFilter checks a topic filter as MQTT does ('#' last and alone in
// its level, '+' alone in its level).
func validFilter(f string) error {
	if f == "" {
		return fmt.Errorf("empty topic filter")
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.Contains(l, "#") && (l != "#" || i != len(levels)-1) {
			return fmt.Errorf("'#' must be the last level, alone")
		}
		if strings.Contains(l, "+") && l != "+" {
			return fmt.Errorf("'+' must be alone in its level")
		}
	}
	return nil
}

// checkBridge checks what needs the whole connection block.
func checkBridge(b *Bridge) error {
	switch {
	case len(b.Addresses) == 0:
		return fmt.Errorf("bridge %s has no address: add \"address HOST[:PORT]\"", b.Name)
	case len(b.Topics) == 0:
		return fmt.Errorf("bridge %s has no topic: add \"topic PATTERN [in|out|both] ...\"", b.Name)
	case b.RemotePassword != "" && b.RemotePasswordFile != "":
		return fmt.Errorf("bridge %s has remote_password and remote_password_file: keep one", b.Name)
	case (b.RemotePassword != "" || b.RemotePasswordFile != "") && b.RemoteUsername == "":
		return fmt.Errorf("bridge %s has a remote password but no remote_username", b.Name)
	case b.CertFile != "" && b.KeyFile == "":
		return fmt.Errorf("bridge %s has bridge_certfile but no bridge_keyfile", b.Name)
	case b.KeyFile != "" && b.CertFile == "":
		return fmt.Errorf("bridge %s has bridge_keyfile but no bridge_certfile", b.Name)
	}
	if !b.TLS() {
		for _, o := range []struct {
			name string
			set  bool
		}{
			{"bridge_certfile", b.CertFile != ""}, {"bridge_insecure", b.Insecure},
			{"bridge_tls_version", b.TLSVersion != ""}, {"bridge_alpn", b.ALPN != ""},
		} {
			if o.set {
				return fmt.Errorf("bridge %s sets %s but no bridge_cafile: add bridge_cafile with the CA of the remote broker (it turns TLS on)", b.Name, o.name)
			}
		}
	}
	return nil
}
