package conf

import (
	"fmt"
	"net"
	"path"
	"strconv"
	"strings"
)

// option applies one line. Its errors are wrapped with file, line and option.
func (p *parser) option(name, value string) error {
	if name == "metrics" {
		p.metricsLine = p.line
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
	switch name {
	case "listener":
		return p.newListener(value)
	case "per_listener_settings":
		return nil // read in the first pass
	case "allow_anonymous", "password_file", "acl_file", "plugin", "auth_plugin":
		s, err := p.security()
		if err != nil {
			return err
		}
		return p.securityOption(s, name, value)
	}
	if mosquittoOptions[name] {
		return ErrUnsupported
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
	l := &Listener{Line: p.line, Port: port, Protocol: "mqtt", MaxConnections: -1}
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
	"persistence":          func(c *Config, v string) error { return setBool(&c.Persistence, v) },
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
	"retain_available":      func(c *Config, v string) error { return setBool(&c.RetainAvailable, v) },
	"max_topic_alias":       func(c *Config, v string) error { return setInt(&c.MaxTopicAlias, v, 0, 65535) },
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
	"dynsec_cache_bytes": func(c *Config, v string) error {
		n := 0
		if err := setInt(&n, v, 0, 1<<40); err != nil {
			return err
		}
		c.DynsecCacheBytes = int64(n)
		return nil
	},
	"inspector_payload_bytes": func(c *Config, v string) error { return setInt(&c.InspectorPayloadBytes, v, 0, 1<<31-1) },
	"inspector_history":       func(c *Config, v string) error { return setInt(&c.InspectorHistory, v, 1, 1<<31-1) },
	"metrics":                 func(c *Config, v string) error { return setBool(&c.Metrics, v) },
	"topic_scheme":            func(c *Config, v string) error { return setString(&c.TopicScheme, v) },
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

// mosquittoOptions are Mosquitto 2.0 options that mqtls does not implement;
// they get a clearer error than a misspelt option.
var mosquittoOptions = map[string]bool{
	"acl_file_reload": true, "allow_duplicate_messages": true, "allow_zero_length_clientid": true,
	"auto_id_prefix": true, "autosave_interval": true, "autosave_on_changes": true,
	"bind_address": true, "bind_interface": true, "capath": true, "check_retain_source": true,
	"ciphers": true, "ciphers_tls1.3": true, "clientid_prefixes": true, "connection": true,
	"connection_messages": true, "dhparamfile": true, "http_dir": true, "include_dir": true,
	"log_facility": true, "log_timestamp": true, "log_timestamp_format": true,
	"max_qos": true, "max_queued_bytes": true, "memory_limit": true, "message_size_limit": true,
	"mount_point": true, "persistence_file": true, "persistent_client_expiration": true,
	"pid_file": true, "port": true, "psk_file": true, "psk_hint": true,
	"queue_qos0_messages": true, "set_tcp_nodelay": true, "socket_domain": true,
	"sys_interval": true, "upgrade_outgoing_qos": true, "use_username_as_clientid": true,
	"user": true, "websockets_headers_size": true, "websockets_log_level": true,
	"address": true, "bridge_cafile": true, "topic": true, "keyfile_encryption_password": true,
	"tls_engine": true, "tls_keyform": true, "tls_engine_kpass_sha1": true, "ocsp_stapling": true,
	"enable_control_api": true,
}
