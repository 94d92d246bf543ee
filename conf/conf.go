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
// to that listener; before any listener line they configure Mosquitto's
// default listener (port 1883, or the port option). Security options
// (allow_anonymous, password_file, acl_file, allow_zero_length_clientid,
// auto_id_prefix, plugin, plugin_opt_*) are global unless
// per_listener_settings is true, in which case they belong to the most
// recent listener. A "connection NAME" line starts a bridge ([Bridge]):
// the bridge options that follow apply to the most recent one, as in
// Mosquitto. include_dir reads the *.conf files of a folder in
// Mosquitto's order, in place of its line.
//
// # Errors and warnings
//
// Every problem is reported as "FILE:LINE: OPTION: what is wrong", all of a
// file's problems at once, and an unknown option names the option it most
// likely is. Every option of Mosquitto 2.0 is either implemented, accepted
// with a warning saying what mqtls does instead ([Config.Warnings]), or
// refused with the reason and the alternative.
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
	// Warnings are the options accepted without effect, one line each
	// ("FILE:LINE: OPTION: what mqtls does instead"); the broker logs them.
	Warnings []string
	// PIDFile is written with the broker's process id, and removed on stop.
	PIDFile string
	// PerListenerSettings makes the security options per listener.
	PerListenerSettings bool
	// Listeners in file order. Empty means: the broker chooses its default.
	Listeners []*Listener
	// Security holds the global security options (per_listener_settings false).
	Security Security
	// Bridges are the connection blocks, in file order.
	Bridges []*Bridge

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
	// MaxQueuedBytes bounds the payload bytes of the QoS 1/2 messages held
	// for one client, in flight or queued; 0 means no limit.
	MaxQueuedBytes int64
	// RetainAvailable is false when retained messages are turned off.
	RetainAvailable bool
	// MaxTopicLength bounds a topic name or filter in bytes; 0 means not
	// set (65535, MQTT's own limit).
	MaxTopicLength int
	// MaxSubscriptions bounds the subscriptions of one client; 0 means not
	// set (the broker's default).
	MaxSubscriptions int
	// MaxRetainedBytes bounds the retained messages of the whole broker in
	// bytes (topic, payload and properties of each); -1 means not set (the
	// broker's default), 0 no limit.
	MaxRetainedBytes int64
	// DynsecCacheBytes bounds the ACL decision cache in bytes; -1 means not
	// set (the broker's default), 0 turns the cache off.
	DynsecCacheBytes int64
	// MessageSizeLimit is the largest PUBLISH payload accepted (0: any).
	MessageSizeLimit int
	// PersistentClientExpiration removes a disconnected session that asked
	// to be kept for ever after this many seconds (0: kept for ever).
	PersistentClientExpiration int64
	// ConnectionMessages logs each connect and disconnect (default true).
	ConnectionMessages bool
	// LogTimestamp puts a time stamp on each log line (default true), in
	// LogTimestampFormat (a strftime format; "" means Unix seconds).
	LogTimestamp       bool
	LogTimestampFormat string
	// SysInterval is the seconds between $SYS updates (0: never).
	SysInterval int
	// MaxTopicAlias is the highest topic alias a v5 client may use (0: none).
	MaxTopicAlias int
	// MemorySoftLimit is the Go runtime's soft memory limit in bytes
	// (memory_soft_limit): the collector works harder as the process
	// nears it, instead of letting the heap grow to twice the live heap.
	// -1 means not set (the broker's default), 0 no limit.
	MemorySoftLimit int64

	// LogTypes as given by log_type lines (empty means the default set).
	LogTypes []string
	// LogDests as given by log_dest lines (empty means stderr).
	LogDests []LogDest
	// LogPayloads lets message payloads into debug log lines (default
	// false: a payload is logged by its size only). Passwords never are.
	LogPayloads bool

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
	// MetricsPublic serves /metrics and /healthz without the page's Host
	// and login rules.
	MetricsPublic bool
	// TopicScheme is a topic scheme file; TopicSchemeMode is "enforce" or "log".
	TopicScheme     string
	TopicSchemeMode string

	// Enrollment over MQTT (listeners with enrollment true): the PKI
	// folder that signs, the file holding its password, and the role and
	// group of every new device's dynsec client.
	EnrollPKI            string
	EnrollCAPasswordFile string
	EnrollRole           string
	EnrollGroup          string
}

// Listener is one "listener PORT [ADDR]" block.
type Listener struct {
	// File and Line are where the listener was declared.
	File string
	Line int
	// Default is set for the listener that port, bind_address or listener
	// options before any listener line configure (Mosquitto's default
	// listener).
	Default bool
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
	// Enrollment answers enrollment requests on this listener and admits
	// claim certificates to its enrollment topics.
	Enrollment bool

	// MaxConnections on this listener; -1 means no limit.
	MaxConnections int
	// SocketDomain is "" (both), "ipv4" or "ipv6".
	SocketDomain string
	// MountPoint is put before every topic and filter the listener's
	// clients send and taken off the topics they receive ("" for none).
	MountPoint string

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
	// NoZeroLengthClientID refuses a CONNECT with an empty client id
	// (allow_zero_length_clientid false).
	NoZeroLengthClientID bool
	// AutoIDPrefix starts the client ids the broker assigns ("" means "auto-").
	AutoIDPrefix string
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
	b, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, b)
}

func readBounded(path string) ([]byte, error) {
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
	return b, nil
}

// New returns a Config with every option at its default and no listener.
func New() *Config {
	return &Config{
		MaxInflightMessages: -1,
		MaxQueuedMessages:   -1,
		DynsecCacheBytes:    -1,
		MaxRetainedBytes:    -1,
		MemorySoftLimit:     -1,
		RetainAvailable:     true,
		MaxTopicAlias:       10,
		ConnectionMessages:  true,
		LogTimestamp:        true,
		SysInterval:         10,
	}
}
