// Package conf reads a mosquitto.conf-syntax file into plain data: the
// listeners, their TLS settings, the security options, limits, persistence,
// logging, and mqtls's own extension options. It imports none of mqtls's
// packages; the broker starts from what it returns.
//
// # Syntax
//
// One option per line: the option name, a space, then its value (the rest of
// the line, trimmed). Lines whose first non-blank character is '#' are
// comments. Options after a "listener" line that configure a listener apply
// to that listener. Security options (allow_anonymous, password_file,
// acl_file, plugin, plugin_opt_*) are global unless per_listener_settings is
// true, in which case they belong to the most recent listener.
//
// # Errors
//
// Every problem is reported as "FILE:LINE: OPTION: what is wrong", and an
// unknown or unsupported option is an error, never silently ignored.
package conf

import (
	"fmt"
	"io"
	"os"
)

// Config is one parsed configuration file.
type Config struct {
	// File is the path the configuration was read from ("" when built in code).
	File string
	// PerListenerSettings makes the security options per listener.
	PerListenerSettings bool
	// Listeners in file order. Empty means: the broker chooses its default.
	Listeners []*Listener
	// Security holds the global security options (per_listener_settings false).
	Security Security

	// Persistence turns on the on-disk store of sessions, subscriptions,
	// retained and in-flight messages.
	Persistence bool
	// PersistenceLocation is the folder of the store ("" means the current folder).
	PersistenceLocation string
	// PersistenceSync is when the store syncs to disk: "batch" (the default:
	// one fsync for every group of concurrent writes), "always" (one per
	// write) or "none" (never; a power cut may lose the last writes).
	PersistenceSync string

	// MaxPacketSize in bytes; 0 means not set (the broker applies its default).
	MaxPacketSize int
	// MaxKeepalive in seconds; 0 means not set (65535).
	MaxKeepalive int
	// MaxInflightMessages per client; -1 means not set, 0 means no limit.
	MaxInflightMessages int
	// MaxQueuedMessages per client; -1 means not set, 0 means no limit.
	MaxQueuedMessages int
	// RetainAvailable is false when retained messages are turned off.
	RetainAvailable bool
	// MaxTopicLength bounds a topic name or filter in bytes; 0 means not
	// set (65535, MQTT's own limit).
	MaxTopicLength int
	// MaxSubscriptions bounds the subscriptions of one client; 0 means not
	// set (the broker's default).
	MaxSubscriptions int
	// DynsecCacheBytes bounds the ACL decision cache in bytes; -1 means not
	// set (the broker's default), 0 turns the cache off.
	DynsecCacheBytes int64
	// MaxTopicAlias is the highest topic alias a v5 client may use (0: none).
	MaxTopicAlias int

	// LogTypes as given by log_type lines (empty means the default set).
	LogTypes []string
	// LogDests as given by log_dest lines (empty means stderr).
	LogDests []LogDest

	// Inspector is the listen address of the live topic inspector ("" = off).
	Inspector string
	// InspectorMaxTopics, InspectorPayloadBytes and InspectorHistory bound
	// the inspector's memory; 0 means not set.
	InspectorMaxTopics    int
	InspectorMaxBytes     int
	InspectorPayloadBytes int
	InspectorHistory      int
	// Metrics serves Prometheus metrics at the inspector's /metrics; it
	// needs Inspector.
	Metrics bool
	// TopicScheme is a topic scheme file; TopicSchemeMode is "enforce" or "log".
	TopicScheme     string
	TopicSchemeMode string
}

// Listener is one "listener PORT [ADDR]" block.
type Listener struct {
	// Line is where the listener was declared.
	Line int
	// Port and Bind address ("" means every address).
	Port int
	Bind string
	// Protocol is "mqtt" or "websockets".
	Protocol string

	// TLS: certfile and keyfile turn it on.
	CAFile   string
	CertFile string
	KeyFile  string
	CRLFile  string
	// TLSVersion is "" (TLS 1.2 minimum), "tlsv1.2" or "tlsv1.3".
	TLSVersion string
	// TLSKeyExchange is "" or "hybrid" (Go's default key shares, with the
	// post-quantum hybrid X25519MLKEM768 first) or "classic" (X25519 and
	// P-256 only: a cheaper handshake without post-quantum protection).
	TLSKeyExchange        string
	RequireCertificate    bool
	UseIdentityAsUsername bool
	UseSubjectAsUsername  bool

	// MaxConnections on this listener; -1 means no limit.
	MaxConnections int

	// Security holds this listener's security options when
	// per_listener_settings is true.
	Security Security
}

// TLS reports whether the listener serves TLS.
func (l *Listener) TLS() bool { return l.CertFile != "" || l.KeyFile != "" }

// Security holds the options that per_listener_settings moves to listeners.
type Security struct {
	// AllowAnonymous is nil when not set (Mosquitto 2.0 default: false).
	AllowAnonymous *bool
	PasswordFile   string
	ACLFile        string
	// Plugins in file order, each with its plugin_opt_* values.
	Plugins []Plugin
}

// Plugin is a "plugin PATH" line and the plugin_opt_* lines after it.
type Plugin struct {
	Line    int
	Path    string
	Options map[string]string
}

// LogDest is one log_dest line: Kind is stdout, stderr, file or none; Path
// is set for file.
type LogDest struct {
	Kind string
	Path string
}

// SecurityFor returns the security options that govern l.
func (c *Config) SecurityFor(l *Listener) Security {
	if c.PerListenerSettings && l != nil {
		return l.Security
	}
	return c.Security
}

// maxFileSize bounds a configuration file: real ones are a few KiB, so a
// larger file is the wrong one (or a device such as /dev/zero).
const maxFileSize = 1 << 20

// Load reads and parses the file at path.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if len(b) > maxFileSize {
		return nil, fmt.Errorf("read config: %s is larger than %d KiB: is it a mosquitto.conf?", path, maxFileSize>>10)
	}
	return Parse(path, b)
}

// New returns a Config with every option at its default and no listener.
func New() *Config {
	return &Config{
		MaxInflightMessages: -1,
		MaxQueuedMessages:   -1,
		DynsecCacheBytes:    -1,
		RetainAvailable:     true,
		MaxTopicAlias:       10,
	}
}
