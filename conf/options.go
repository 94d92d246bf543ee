package conf

import (
	"fmt"
	"net"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// option applies one line. Its errors are wrapped with file, line and option.
func (p *parser) option(name, value string) error {
	if name == "metrics" {
		p.metricsFile, p.metricsLine = p.file, p.line
	}
	if bridgeOptions[name] {
		return p.bridgeOption(name, value)
	}
	if name == "connection" {
		return p.newBridge(value)
	}
	if strings.HasPrefix(name, "plugin_opt_") || strings.HasPrefix(name, "auth_opt_") {
		return p.pluginOpt(name, value)
	}
	if f, ok := globalOptions[name]; ok {
		return f(p.cfg, value)
	}
	if f, ok := listenerOptions[name]; ok {
		l, err := p.listener()
		if err != nil {
			return err
		}
		return f(l, value)
	}
	if f, ok := checkedOptions[name]; ok {
		return f(p, value)
	}
	if why, ok := ignoredOptions[name]; ok {
		p.warn("accepted and ignored: %s", why)
		return nil
	}
	if why, ok := refusedOptions[name]; ok {
		return fmt.Errorf("%w: %s", ErrUnsupported, why)
	}
	switch name {
	case "listener":
		return p.newListener(value)
	case "per_listener_settings":
		return nil // read in the first pass
	case "port":
		l, err := p.listener()
		if err != nil {
			return err
		}
		if !l.Default {
			return fmt.Errorf("sets the default listener's port but follows a listener line: give the port on the listener line")
		}
		return setInt(&l.Port, value, 1, 65535)
	case "bind_address":
		l, err := p.listener()
		if err != nil {
			return err
		}
		if !l.Default {
			return fmt.Errorf("sets the default listener's address but follows a listener line: give the address on the listener line")
		}
		return setString(&l.Bind, value)
	case "allow_anonymous", "password_file", "acl_file", "plugin", "auth_plugin", "allow_zero_length_clientid", "auto_id_prefix":
		s, err := p.security()
		if err != nil {
			return err
		}
		return p.securityOption(s, name, value)
	}
	if near := didYouMean(name); near != "" {
		return fmt.Errorf("%w: did you mean %s?", ErrUnknown, near)
	}
	return ErrUnknown
}

func (p *parser) newListener(value string) error {
	f := strings.Fields(value)
	if len(f) == 0 || len(f) > 2 {
		return fmt.Errorf("want \"listener PORT [ADDRESS]\", got %q", value)
	}
	port, err := strconv.Atoi(f[0])
	if err != nil || port < 1 || port > 65535 {
		return fmt.Errorf("port %q is not a number from 1 to 65535 (unix sockets are not supported)", f[0])
	}
	l := &Listener{File: p.file, Line: p.line, Port: port, Protocol: "mqtt", MaxConnections: -1}
	if len(f) == 2 {
		if strings.HasPrefix(f[1], "/") {
			return fmt.Errorf("unix socket listeners are not supported: give an IP address or host name")
		}
		l.Bind = f[1]
	}
	p.cfg.Listeners = append(p.cfg.Listeners, l)
	p.cur = l
	p.plugin = nil
	return nil
}

func (p *parser) securityOption(s *Security, name, value string) error {
	switch name {
	case "allow_anonymous":
		v, err := parseBool(value)
		if err != nil {
			return err
		}
		s.AllowAnonymous = &v
	case "allow_zero_length_clientid":
		v, err := parseBool(value)
		if err != nil {
			return err
		}
		s.NoZeroLengthClientID = !v
	case "auto_id_prefix":
		if strings.ContainsAny(value, "+#/") {
			return fmt.Errorf("a client id prefix with '+', '#' or '/' would make ACL patterns with %%c match other topics: choose another prefix")
		}
		return setString(&s.AutoIDPrefix, value)
	case "password_file":
		return setString(&s.PasswordFile, value)
	case "acl_file":
		return setString(&s.ACLFile, value)
	case "plugin", "auth_plugin":
		if value == "" {
			return fmt.Errorf("needs the path of the plugin")
		}
		if !strings.Contains(path.Base(value), "dynamic_security") {
			return fmt.Errorf("only the dynamic security plugin is supported (a path ending in mosquitto_dynamic_security.so), not %q", value)
		}
		if p.pluginLine > 0 {
			// Mosquitto 2.0.11 starts with one plugin line per listener
			// but uses the last config file on all of them (issue #2423);
			// later 2.0 releases refuse it, and so do we.
			return fmt.Errorf("the dynamic security plugin is already loaded on line %d; it can be loaded only once (also with per_listener_settings true: give the other listeners no plugin line, or use per_listener_settings false)", p.pluginLine)
		}
		p.pluginLine = p.line
		s.Plugins = append(s.Plugins, Plugin{Line: p.line, Path: value, Options: map[string]string{}})
		p.plugin = &s.Plugins[len(s.Plugins)-1]
	}
	return nil
}

func (p *parser) pluginOpt(name, value string) error {
	if p.plugin == nil {
		return fmt.Errorf("must follow a plugin line")
	}
	key := strings.TrimPrefix(strings.TrimPrefix(name, "plugin_opt_"), "auth_opt_")
	if key != "config_file" {
		return fmt.Errorf("the dynamic security plugin has no option %q (only plugin_opt_config_file)", key)
	}
	if value == "" {
		return fmt.Errorf("needs a value")
	}
	p.plugin.Options[key] = value
	return nil
}

var globalOptions = map[string]func(c *Config, v string) error{
	"persistence": func(c *Config, v string) error { return setBool(&c.Persistence, v) },
	// Mosquitto's parser takes retained_persistence as another name of
	// persistence (undocumented): retained messages are kept with the rest.
	"retained_persistence": func(c *Config, v string) error { return setBool(&c.Persistence, v) },
	"persistence_location": func(c *Config, v string) error { return setString(&c.PersistenceLocation, v) },
	"persistence_sync": func(c *Config, v string) error {
		switch v {
		case "batch", "always", "none":
			c.PersistenceSync = v
			return nil
		}
		return fmt.Errorf("%q: use batch (the default: one fsync per group of writes), always or none", v)
	},
	"max_packet_size": func(c *Config, v string) error {
		// [MQTT-3.1.2-24]: the fixed header alone is 2 to 5 bytes; Mosquitto's minimum is 20.
		return setInt(&c.MaxPacketSize, v, 20, 268435455)
	},
	"max_keepalive":         func(c *Config, v string) error { return setInt(&c.MaxKeepalive, v, 10, 65535) },
	"max_inflight_messages": func(c *Config, v string) error { return setInt(&c.MaxInflightMessages, v, 0, 65535) },
	"max_queued_messages":   func(c *Config, v string) error { return setInt(&c.MaxQueuedMessages, v, 0, 1<<31-1) },
	"max_queued_bytes": func(c *Config, v string) error {
		n := 0
		if err := setInt(&n, v, 0, 1<<40); err != nil {
			return err
		}
		c.MaxQueuedBytes = int64(n)
		return nil
	},
	"retain_available":   func(c *Config, v string) error { return setBool(&c.RetainAvailable, v) },
	"max_topic_alias":    func(c *Config, v string) error { return setInt(&c.MaxTopicAlias, v, 0, 65535) },
	"message_size_limit": func(c *Config, v string) error { return setInt(&c.MessageSizeLimit, v, 0, 268435455) },
	"persistent_client_expiration": func(c *Config, v string) error {
		n, err := parseExpiration(v)
		if err != nil {
			return err
		}
		c.PersistentClientExpiration = n
		return nil
	},
	"connection_messages":  func(c *Config, v string) error { return setBool(&c.ConnectionMessages, v) },
	"log_timestamp":        func(c *Config, v string) error { return setBool(&c.LogTimestamp, v) },
	"log_timestamp_format": func(c *Config, v string) error { return setString(&c.LogTimestampFormat, v) },
	"sys_interval":         func(c *Config, v string) error { return setInt(&c.SysInterval, v, 0, 1<<31-1) },
	"pid_file":             func(c *Config, v string) error { return setString(&c.PIDFile, v) },
	"log_type": func(c *Config, v string) error {
		switch v {
		case "debug", "error", "warning", "notice", "information", "subscribe", "unsubscribe", "websockets", "none", "all":
			c.LogTypes = append(c.LogTypes, v)
			return nil
		}
		return fmt.Errorf("unknown log type %q: want debug, error, warning, notice, information, subscribe, unsubscribe, websockets, none or all", v)
	},
	"log_dest": func(c *Config, v string) error {
		kind, rest, _ := strings.Cut(v, " ")
		rest = strings.TrimSpace(rest)
		switch kind {
		case "stdout", "stderr", "none":
			c.LogDests = append(c.LogDests, LogDest{Kind: kind})
		case "file":
			if rest == "" {
				return fmt.Errorf("\"log_dest file\" needs a path")
			}
			for _, d := range c.LogDests {
				if d.Kind == "file" {
					return fmt.Errorf("only one log file may be given")
				}
			}
			c.LogDests = append(c.LogDests, LogDest{Kind: "file", Path: rest})
		case "syslog", "topic", "dlt":
			return fmt.Errorf("log destination %q is not supported by mqtls: use stdout, stderr, file PATH or none", kind)
		default:
			return fmt.Errorf("unknown log destination %q: want stdout, stderr, file PATH or none", kind)
		}
		return nil
	},

	// mqtls extensions.
	"inspector": func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return fmt.Errorf("want HOST:PORT such as 127.0.0.1:8088, got %q", v)
		}
		c.Inspector = v
		return nil
	},
	"inspector_max_topics": func(c *Config, v string) error { return setInt(&c.InspectorMaxTopics, v, 1, 1<<31-1) },
	"inspector_max_bytes":  func(c *Config, v string) error { return setInt(&c.InspectorMaxBytes, v, 1<<20, 1<<40) },
	"max_topic_length":     func(c *Config, v string) error { return setInt(&c.MaxTopicLength, v, 1, 65535) },
	"max_subscriptions":    func(c *Config, v string) error { return setInt(&c.MaxSubscriptions, v, 1, 1<<31-1) },
	"max_retained_bytes": func(c *Config, v string) error {
		n := 0
		if err := setInt(&n, v, 0, 1<<40); err != nil {
			return err
		}
		c.MaxRetainedBytes = int64(n)
		return nil
	},
	"dynsec_cache_bytes": func(c *Config, v string) error {
		n := 0
		if err := setInt(&n, v, 0, 1<<40); err != nil {
			return err
		}
		c.DynsecCacheBytes = int64(n)
		return nil
	},
	"memory_soft_limit": func(c *Config, v string) error {
		n, err := parseMemoryLimit(v)
		if err != nil {
			return err
		}
		c.MemorySoftLimit = n
		return nil
	},
	"inspector_payload_bytes": func(c *Config, v string) error { return setInt(&c.InspectorPayloadBytes, v, 0, 1<<31-1) },
	"inspector_history":       func(c *Config, v string) error { return setInt(&c.InspectorHistory, v, 1, 1<<31-1) },
	"metrics":                 func(c *Config, v string) error { return setBool(&c.Metrics, v) },
	"log_payloads":            func(c *Config, v string) error { return setBool(&c.LogPayloads, v) },
	"metrics_public":          func(c *Config, v string) error { return setBool(&c.MetricsPublic, v) },
	"topic_scheme":            func(c *Config, v string) error { return setString(&c.TopicScheme, v) },
	// Enrollment over MQTT (the listener option is "enrollment").
	"enroll_pki":              func(c *Config, v string) error { return setString(&c.EnrollPKI, v) },
	"enroll_ca_password_file": func(c *Config, v string) error { return setString(&c.EnrollCAPasswordFile, v) },
	"enroll_role":             func(c *Config, v string) error { return setString(&c.EnrollRole, v) },
	"enroll_group":            func(c *Config, v string) error { return setString(&c.EnrollGroup, v) },
	"topic_scheme_mode": func(c *Config, v string) error {
		if v != "enforce" && v != "log" {
			return fmt.Errorf("want enforce or log, got %q", v)
		}
		c.TopicSchemeMode = v
		return nil
	},
}

var listenerOptions = map[string]func(l *Listener, v string) error{
	"protocol": func(l *Listener, v string) error {
		if v != "mqtt" && v != "websockets" {
			return fmt.Errorf("want mqtt or websockets, got %q", v)
		}
		l.Protocol = v
		return nil
	},
	"cafile":   func(l *Listener, v string) error { return setString(&l.CAFile, v) },
	"certfile": func(l *Listener, v string) error { return setString(&l.CertFile, v) },
	"keyfile":  func(l *Listener, v string) error { return setString(&l.KeyFile, v) },
	"crlfile":  func(l *Listener, v string) error { return setString(&l.CRLFile, v) },
	"tls_version": func(l *Listener, v string) error {
		switch v {
		case "tlsv1.2", "tlsv1.3":
			l.TLSVersion = v
			return nil
		case "tlsv1.1", "tlsv1":
			return fmt.Errorf("%s is not supported: TLS 1.2 is the minimum (use tlsv1.2 or tlsv1.3)", v)
		}
		return fmt.Errorf("want tlsv1.2 or tlsv1.3, got %q", v)
	},
	"tls_key_exchange": func(l *Listener, v string) error {
		if v != "hybrid" && v != "classic" {
			return fmt.Errorf("want hybrid (post-quantum X25519MLKEM768 first) or classic (X25519, P-256), got %q", v)
		}
		l.TLSKeyExchange = v
		return nil
	},
	"require_certificate":      func(l *Listener, v string) error { return setBool(&l.RequireCertificate, v) },
	"use_identity_as_username": func(l *Listener, v string) error { return setBool(&l.UseIdentityAsUsername, v) },
	"use_subject_as_username":  func(l *Listener, v string) error { return setBool(&l.UseSubjectAsUsername, v) },
	"enrollment":               func(l *Listener, v string) error { return setBool(&l.Enrollment, v) },
	"socket_domain": func(l *Listener, v string) error {
		if v != "ipv4" && v != "ipv6" {
			return fmt.Errorf("want ipv4 or ipv6, got %q", v)
		}
		l.SocketDomain = v
		return nil
	},
	"mount_point": func(l *Listener, v string) error {
		if v == "" {
			return fmt.Errorf("needs a value")
		}
		if strings.ContainsAny(v, "+#") || !utf8.ValidString(v) || strings.ContainsRune(v, 0) {
			return fmt.Errorf("%q is not a topic: a mount point holds no + or # (for example tenant1/)", v)
		}
		l.MountPoint = v
		return nil
	},
	"max_connections": func(l *Listener, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < -1 {
			return fmt.Errorf("want -1 (no limit) or a positive number, got %q", v)
		}
		if n == 0 {
			n = -1
		}
		l.MaxConnections = n
		return nil
	},
}

func setString(dst *string, v string) error {
	if v == "" {
		return fmt.Errorf("needs a value")
	}
	*dst = v
	return nil
}

func setBool(dst *bool, v string) error {
	b, err := parseBool(v)
	if err != nil {
		return err
	}
	*dst = b
	return nil
}

func parseBool(v string) (bool, error) {
	switch v {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, fmt.Errorf("want true or false, got %q", v)
}

func setInt(dst *int, v string, lo, hi int) error {
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return fmt.Errorf("want a number from %d to %d, got %q", lo, hi, v)
	}
	*dst = n
	return nil
}

// minMemoryLimit is the smallest memory_soft_limit: an idle broker holds
// about 30 MiB, so a smaller number is a unit left out ("512" meant as
// 512 MiB), which would keep the collector running without pause.
const minMemoryLimit = 16 << 20

// parseMemoryLimit reads memory_soft_limit: 0 (no limit), or a number of
// bytes with GOMEMLIMIT's suffixes (B, KiB, MiB, GiB, TiB), so that one
// value can be moved between the two.
func parseMemoryLimit(v string) (int64, error) {
	units := []struct {
		suffix string
		shift  uint
	}{{"KiB", 10}, {"MiB", 20}, {"GiB", 30}, {"TiB", 40}, {"B", 0}}
	num, shift := v, uint(0)
	for _, u := range units {
		if s, ok := strings.CutSuffix(v, u.suffix); ok {
			num, shift = s, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	switch {
	case err == nil && n == 0:
		return 0, nil
	case err == nil && n > 0 && n <= (1<<50)>>shift && n<<shift >= minMemoryLimit:
		return n << shift, nil
	}
	return 0, fmt.Errorf("want a size of at least 16MiB such as 512MiB or 2GiB (suffixes B, KiB, MiB, GiB, TiB, as in GOMEMLIMIT), or 0 for no limit, got %q", v)
}

// parseExpiration reads persistent_client_expiration: a number followed by
// h, d, w, m or y (hours, days, weeks, months of 30 days, years of 365).
func parseExpiration(v string) (int64, error) {
	units := map[byte]int64{'h': 3600, 'd': 86400, 'w': 7 * 86400, 'm': 30 * 86400, 'y': 365 * 86400}
	if len(v) >= 2 {
		if u, ok := units[v[len(v)-1]]; ok {
			n, err := strconv.ParseInt(v[:len(v)-1], 10, 32)
			if err == nil && n > 0 {
				return n * u, nil
			}
		}
	}
	return 0, fmt.Errorf("want a number followed by h, d, w, m or y (such as 14d), got %q", v)
}

// checkedOptions are accepted for the values that mean what mqtls does, and
// refused (or warned about) for the others.
var checkedOptions = map[string]func(p *parser, v string) error{
	"allow_duplicate_messages": func(p *parser, v string) error {
		if _, err := parseBool(v); err != nil {
			return err
		}
		p.warn("accepted and ignored: removed from Mosquitto 2.0, where duplicates are always sent, as in mqtls")
		return nil
	},
	"check_retain_source": func(p *parser, v string) error {
		return onlyFalse(v, "mqtls does not re-check a retained message's publisher; clear the retained message when you revoke a publisher (mqtls pub -r -n -t TOPIC)")
	},
	"queue_qos0_messages": func(p *parser, v string) error {
		return onlyFalse(v, "mqtls does not queue QoS 0 messages for offline clients; publish at QoS 1 to have them queued")
	},
	"upgrade_outgoing_qos": func(p *parser, v string) error {
		return onlyFalse(v, "mqtls delivers at the QoS of the subscription or of the message, whichever is lower, as MQTT says")
	},
	"set_tcp_nodelay": func(p *parser, v string) error {
		b, err := parseBool(v)
		if err != nil {
			return err
		}
		if !b {
			p.warn("accepted and ignored: mqtls always sets TCP_NODELAY (Go's default)")
		}
		return nil
	},
	"autosave_on_changes": func(p *parser, v string) error {
		if _, err := parseBool(v); err != nil {
			return err
		}
		p.warn("accepted and ignored: mqtls's store writes every change as it happens")
		return nil
	},
}

func onlyFalse(v, why string) error {
	b, err := parseBool(v)
	if err != nil {
		return err
	}
	if b {
		return fmt.Errorf("%w: true is not supported: %s", ErrUnsupported, why)
	}
	return nil
}

// ignoredOptions are Mosquitto options that have no meaning for mqtls: they
// are accepted with a warning saying what mqtls does.
var ignoredOptions = map[string]string{
	"autosave_interval":              "mqtls's store writes every change as it happens",
	"persistence_file":               "mqtls keeps its store in a folder of its own inside persistence_location",
	"user":                           "mqtls does not change user: start it as the user it should run as",
	"log_facility":                   "mqtls does not log to syslog",
	"websockets_log_level":           "websocket messages are logged with log_type websockets",
	"websockets_headers_size":        "mqtls accepts websocket upgrade headers of up to 8 KiB",
	"auth_plugin_deny_special_chars": "mqtls loads no authentication plugin that could see such names",
	"ciphers":                        "Go chooses the cipher suites: ECDHE with AES-GCM or ChaCha20-Poly1305 only",
	"ciphers_tls1.3":                 "Go chooses the TLS 1.3 cipher suites (all three are safe)",
	"dhparamfile":                    "Go offers no DHE cipher suites, only ECDHE",
}

// refusedOptions are Mosquitto options that mqtls does not implement: each
// is refused with the reason and what to use instead.
var refusedOptions = map[string]string{
	"use_username_as_clientid": "pin a user's client id with dynamic security (a client's clientid) instead",
	"bind_interface":           "listen on the interface's address instead (listener PORT ADDRESS)",
	"capath":                   "put the CA certificates in one file and give it as cafile",
	"clientid_prefixes":        "restrict client ids with dynamic security (a client's clientid) or ACLs with %c",
	"http_dir":                 "mqtls serves no files over websockets: put a web server beside it",
	"max_inflight_bytes":       "limit messages with max_inflight_messages instead",
	"memory_limit":             "mqtls has no hard limit that refuses allocations: set memory_soft_limit (the collector's target, such as 1GiB) and bound what clients hold with max_connections, max_queued_messages, max_queued_bytes and message_size_limit",
	"max_qos":                  "grant QoS per topic with ACLs; mqtls serves QoS 0, 1 and 2 on every listener",
	"psk_file":                 "pre-shared keys are not supported: use client certificates (mqtls cert client)",
	"psk_hint":                 "pre-shared keys are not supported: use client certificates (mqtls cert client)",
	"tls_engine":               "OpenSSL engines are not supported: give the key as a PEM keyfile",
	"tls_keyform":              "OpenSSL engines are not supported: give the key as a PEM keyfile",
	"tls_engine_kpass_sha1":    "OpenSSL engines are not supported: give the key as a PEM keyfile",
	// Mosquitto 2.1 options a 2.0 file may carry.
	"keyfile_encryption_password": "give the key unencrypted in a 0600 keyfile",
	"ocsp_stapling":               "revoke with crlfile instead",
	"enable_control_api":          "the dynamic security plugin's $CONTROL topics are on when it is loaded",
}

// bridgeOptions are the options of a bridge: they apply to the most
// recent connection line (bridge.go).
var bridgeOptions = map[string]bool{
	"address": true, "addresses": true, "bridge_alpn": true, "bridge_attempt_unsubscribe": true,
	"bridge_bind_address": true, "bridge_cafile": true, "bridge_capath": true, "bridge_certfile": true,
	"bridge_identity": true, "bridge_insecure": true, "bridge_keyfile": true, "bridge_max_packet_size": true,
	"bridge_outgoing_retain": true, "bridge_protocol_version": true, "bridge_psk": true,
	"bridge_require_ocsp": true, "bridge_tls_version": true, "cleansession": true, "idle_timeout": true,
	"keepalive_interval": true, "local_cleansession": true, "local_clientid": true, "local_password": true,
	"local_username": true, "notification_topic": true, "notifications": true,
	"notifications_local_only": true, "remote_clientid": true, "remote_password": true,
	"remote_username": true, "restart_timeout": true, "round_robin": true, "start_type": true,
	"threshold": true, "topic": true, "try_private": true,
	// Mosquitto's older names of remote_clientid, remote_username and
	// remote_password, and mqtls's remote_password_file.
	"clientid": true, "username": true, "password": true, "remote_password_file": true,
}

// otherOptions are the options the switch in option handles.
var otherOptions = []string{
	"listener", "per_listener_settings", "port", "bind_address", "connection", "include_dir",
	"allow_anonymous", "password_file", "acl_file", "plugin", "auth_plugin",
	"allow_zero_length_clientid", "auto_id_prefix",
}

// Known lists every option name the parser knows (implemented, ignored,
// refused or a bridge option), sorted.
func Known() []string {
	var names []string
	for _, m := range []map[string]bool{bridgeOptions} {
		for n := range m {
			names = append(names, n)
		}
	}
	for n := range globalOptions {
		names = append(names, n)
	}
	for n := range listenerOptions {
		names = append(names, n)
	}
	for n := range checkedOptions {
		names = append(names, n)
	}
	for n := range ignoredOptions {
		names = append(names, n)
	}
	for n := range refusedOptions {
		names = append(names, n)
	}
	names = append(names, otherOptions...)
	slices.Sort(names)
	return slices.Compact(names)
}

// didYouMean returns the known option closest to name, if it is close
// enough to be a misspelling.
func didYouMean(name string) string {
	best, bestD := "", 3
	if len(name) <= 4 {
		bestD = 2
	}
	for _, k := range Known() {
		if d := distance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	return best
}

// distance is the Levenshtein distance of a and b, counting a swap of two
// neighbouring letters as one edit.
func distance(a, b string) int {
	if len(a) > 64 || len(b) > 64 {
		return 64
	}
	prev2 := make([]int, len(b)+1)
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(b)]
}
