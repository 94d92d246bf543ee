package conf

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestSeedConfigLoads(t *testing.T) {
	c, err := Load("testdata/seed.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 2 {
		t.Fatalf("listeners = %d, want 2", len(c.Listeners))
	}
	plain, mtls := c.Listeners[0], c.Listeners[1]
	if plain.Port != 1883 || plain.TLS() || plain.Protocol != "mqtt" {
		t.Errorf("first listener = %+v", plain)
	}
	if mtls.Port != 8883 || !mtls.TLS() || !mtls.RequireCertificate || !mtls.UseIdentityAsUsername ||
		mtls.TLSVersion != "tlsv1.2" || mtls.CAFile != "mosquitto/config/cert/ca.crt" {
		t.Errorf("second listener = %+v", mtls)
	}
	if !c.Persistence || c.PersistenceLocation != "/mosquitto/data/" {
		t.Errorf("persistence = %v %q", c.Persistence, c.PersistenceLocation)
	}
	sec := c.SecurityFor(mtls)
	if len(sec.Plugins) != 1 || sec.Plugins[0].Options["config_file"] != "/mosquitto/data/dynamic-security.json" {
		t.Errorf("plugins = %+v", sec.Plugins)
	}
	if sec.AllowAnonymous != nil {
		t.Errorf("allow_anonymous is commented out, got %v", *sec.AllowAnonymous)
	}
	if len(c.LogTypes) != 1 || c.LogTypes[0] != "all" {
		t.Errorf("log types = %v", c.LogTypes)
	}
}

// TestRetainedPersistence: Mosquitto's parser reads retained_persistence
// as another name of persistence; so does ours. Unset, max_retained_bytes
// is -1 (the broker's default).
func TestRetainedPersistence(t *testing.T) {
	for text, want := range map[string]bool{"retained_persistence true\n": true, "persistence true\nretained_persistence false\n": false, "": false} {
		c, err := Parse("x.conf", []byte(text))
		if err != nil {
			t.Fatalf("%q: %v", text, err)
		}
		if c.Persistence != want || c.MaxRetainedBytes != -1 {
			t.Errorf("%q: persistence %v max_retained_bytes %d, want %v -1", text, c.Persistence, c.MaxRetainedBytes, want)
		}
	}
}

func TestResearchConfigLoads(t *testing.T) {
	c, err := Load("testdata/research.conf")
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 2 || c.Listeners[0].Bind != "127.0.0.1" || c.Listeners[1].CRLFile != "./pki/crl.pem" {
		t.Fatalf("listeners = %+v %+v", c.Listeners[0], c.Listeners[1])
	}
	if c.Security.AllowAnonymous == nil || *c.Security.AllowAnonymous {
		t.Errorf("allow_anonymous should be false")
	}
	if len(c.LogDests) != 1 || c.LogDests[0] != (LogDest{Kind: "file", Path: "./mosquitto.log"}) {
		t.Errorf("log dests = %+v", c.LogDests)
	}
}

func TestEveryOption(t *testing.T) {
	text := `# every option mqtls knows
per_listener_settings true
persistence true
persistence_location /var/lib/mqtls
max_packet_size 65536
max_keepalive 120
max_inflight_messages 10
max_queued_messages 500
max_queued_bytes 65536
retain_available false
max_topic_alias 4
max_topic_length 1024
max_subscriptions 50
dynsec_cache_bytes 1048576
max_retained_bytes 2097152
memory_soft_limit 1GiB
log_type error
log_type subscribe
log_dest stderr
log_dest file /tmp/broker.log
inspector 127.0.0.1:8088
inspector_max_topics 5000
inspector_max_bytes 2097152
inspector_payload_bytes 256
inspector_history 20
metrics true
metrics_public true
topic_scheme topics.yaml
topic_scheme_mode enforce

listener 1883 127.0.0.1
allow_anonymous true
password_file /etc/mqtls/passwd
acl_file /etc/mqtls/acl
max_connections 100

listener 9001 ::1
protocol websockets
cafile ca.crt
certfile server.crt
keyfile server.key
crlfile crl.pem
tls_version tlsv1.3
tls_key_exchange classic
require_certificate true
use_subject_as_username true
plugin /usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
plugin_opt_config_file dynsec.json
`
	c, err := Parse("all.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		File: "all.conf", PerListenerSettings: true, Persistence: true, PersistenceLocation: "/var/lib/mqtls",
		MaxPacketSize: 65536, MaxKeepalive: 120, MaxInflightMessages: 10, MaxQueuedMessages: 500, MaxQueuedBytes: 65536,
		MaxTopicAlias: 4, MaxTopicLength: 1024, MaxSubscriptions: 50, DynsecCacheBytes: 1 << 20, MaxRetainedBytes: 2 << 20,
		MemorySoftLimit: 1 << 30, ConnectionMessages: true, LogTimestamp: true, SysInterval: 10,
		Inspector: "127.0.0.1:8088", InspectorMaxTopics: 5000, InspectorMaxBytes: 2 << 20, InspectorPayloadBytes: 256, InspectorHistory: 20,
		TopicScheme: "topics.yaml", TopicSchemeMode: "enforce", MetricsPublic: true,
	}
	got := *c
	if !c.Metrics {
		t.Errorf("metrics = %v", c.Metrics)
	}
	got.Listeners, got.LogTypes, got.LogDests, got.Metrics = nil, nil, nil, false
	if got.Security.AllowAnonymous != nil || got.Security.PasswordFile != "" {
		t.Errorf("global security set with per_listener_settings true: %+v", got.Security)
	}
	got.Security = Security{}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("config =\n%+v\nwant\n%+v", got, want)
	}
	if strings.Join(c.LogTypes, ",") != "error,subscribe" || len(c.LogDests) != 2 || c.LogDests[1].Path != "/tmp/broker.log" {
		t.Errorf("logs = %v %+v", c.LogTypes, c.LogDests)
	}
	l0, l1 := c.Listeners[0], c.Listeners[1]
	if *l0.Security.AllowAnonymous != true || l0.Security.PasswordFile != "/etc/mqtls/passwd" ||
		l0.Security.ACLFile != "/etc/mqtls/acl" || l0.MaxConnections != 100 || l0.Bind != "127.0.0.1" {
		t.Errorf("listener 1883 = %+v", l0)
	}
	if l1.Protocol != "websockets" || l1.Bind != "::1" || l1.TLSVersion != "tlsv1.3" || l1.TLSKeyExchange != "classic" || !l1.UseSubjectAsUsername ||
		l1.CRLFile != "crl.pem" || len(l1.Security.Plugins) != 1 || l1.MaxConnections != -1 {
		t.Errorf("listener 9001 = %+v", l1)
	}
	if c.SecurityFor(l1).Plugins[0].Options["config_file"] != "dynsec.json" {
		t.Errorf("plugin options = %+v", l1.Security.Plugins)
	}
}

func TestDefaults(t *testing.T) {
	c, err := Parse("empty.conf", nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.RetainAvailable || c.MaxInflightMessages != -1 || c.MaxQueuedMessages != -1 || c.MaxPacketSize != 0 || len(c.Listeners) != 0 || c.MemorySoftLimit != -1 {
		t.Errorf("defaults = %+v", c)
	}
}

// TestErrors checks every error message: file, line, option and the reason.
func TestErrors(t *testing.T) {
	cases := map[string]struct{ text, want string }{
		"unknown":             {"listener 1883\n\nfoo bar", `x.conf:3: foo: unknown option`},
		"unsupported":         {"# c\npsk_file p", `x.conf:2: psk_file: mosquitto option not supported by mqtls: pre-shared keys are not supported: use client certificates`},
		"misspelt":            {"listener 1883\nallow_anonymus true", `x.conf:2: allow_anonymus: unknown option: did you mean allow_anonymous?`},
		"port after listener": {"listener 1883\nport 1884", `x.conf:2: port: sets the default listener's port but follows a listener line`},
		"bridge option alone": {"topic # both", `x.conf:1: topic: is a bridge option: it must follow a "connection NAME" line`},
		"retain source":       {"check_retain_source true", `x.conf:1: check_retain_source: mosquitto option not supported by mqtls: true is not supported`},
		"expiration":          {"persistent_client_expiration 14", `x.conf:1: persistent_client_expiration: want a number followed by h, d, w, m or y`},
		"include missing":     {"include_dir /nonexistent/conf.d", `x.conf:1: include_dir: cannot read the folder`},
		"bad bool":            {"listener 1883\nallow_anonymous yes", `x.conf:2: allow_anonymous: want true or false, got "yes"`},
		"listener port":       {"listener http", `x.conf:1: listener: port "http" is not a number from 1 to 65535`},
		"listener big":        {"listener 70000", `x.conf:1: listener: port "70000" is not a number from 1 to 65535`},
		"listener empty":      {"listener", `x.conf:1: listener: want "listener PORT [ADDRESS]", got ""`},
		"listener unix":       {"listener 0 /tmp/s", `x.conf:1: listener: port "0" is not a number`},
		"listener unix path":  {"listener 1883 /tmp/s", `x.conf:1: listener: unix socket listeners are not supported`},
		"duplicate listener":  {"listener 1883\nlistener 1883", `x.conf:2: listener: port 1883 is already used by the listener at x.conf:1`},
		"cafile first":        {"cafile ca.crt\nlistener 8883", `x.conf:1: port: listener 1883 sets cafile but is not a TLS listener`},
		"default and 1883":    {"port 1883\nlistener 1883", `x.conf:2: listener: port 1883 is already used by the listener at x.conf:1`},
		"mount wildcard":      {"listener 1\nmount_point t/+/", `x.conf:2: mount_point: "t/+/" is not a topic: a mount point holds no + or # (for example tenant1/)`},
		"mount empty":         {"listener 1\nmount_point", `x.conf:2: mount_point: needs a value`},
		"protocol":            {"listener 1\nprotocol http", `x.conf:2: protocol: want mqtt or websockets, got "http"`},
		"tls 1.1":             {"listener 1\ntls_version tlsv1.1", `x.conf:2: tls_version: tlsv1.1 is not supported: TLS 1.2 is the minimum`},
		"tls junk":            {"listener 1\ntls_version ssl3", `x.conf:2: tls_version: want tlsv1.2 or tlsv1.3, got "ssl3"`},
		"key exchange junk":   {"listener 1\ntls_key_exchange mlkem", `x.conf:2: tls_key_exchange: want hybrid (post-quantum X25519MLKEM768 first) or classic (X25519, P-256), got "mlkem"`},
		"key exchange no tls": {"listener 8883\ntls_key_exchange classic", `x.conf:1: listener: listener 8883 sets tls_key_exchange but is not a TLS listener: add certfile and keyfile`},
		"tls without cert":    {"listener 8883\ncafile ca.crt", `x.conf:1: listener: listener 8883 sets cafile but is not a TLS listener: add certfile and keyfile`},
		"cert without key":    {"listener 8883\ncertfile s.crt", `x.conf:1: listener: listener 8883 has certfile but no keyfile`},
		"key without cert":    {"listener 8883\nkeyfile s.key", `x.conf:1: listener: listener 8883 has keyfile but no certfile`},
		"require without ca":  {"listener 8883\ncertfile s\nkeyfile k\nrequire_certificate true", `x.conf:1: listener: listener 8883 has require_certificate true but no cafile`},
		"identity no require": {"listener 8883\ncafile c\ncertfile s\nkeyfile k\nuse_identity_as_username true", `x.conf:1: listener: listener 8883 uses the certificate as username but does not set require_certificate true`},
		"crl without ca":      {"listener 8883\ncertfile s\nkeyfile k\ncrlfile c", `x.conf:1: listener: listener 8883 has crlfile but no cafile`},
		"other plugin":        {"plugin /usr/lib/auth.so", `x.conf:1: plugin: only the dynamic security plugin is supported`},
		"plugin twice":        {"plugin /a/mosquitto_dynamic_security.so\nplugin /a/mosquitto_dynamic_security.so", `x.conf:2: plugin: the dynamic security plugin is already loaded on line 1`},
		"plugin opt alone":    {"plugin_opt_config_file x", `x.conf:1: plugin_opt_config_file: must follow a plugin line`},
		"plugin opt unknown":  {"plugin /a/mosquitto_dynamic_security.so\nplugin_opt_foo x", `x.conf:2: plugin_opt_foo: the dynamic security plugin has no option "foo"`},
		"empty path":          {"password_file", `x.conf:1: password_file: needs a value`},
		"packet size":         {"max_packet_size 10", `x.conf:1: max_packet_size: want a number from 20 to 268435455, got "10"`},
		"keepalive":           {"max_keepalive 5", `x.conf:1: max_keepalive: want a number from 10 to 65535, got "5"`},
		"inflight":            {"max_inflight_messages x", `x.conf:1: max_inflight_messages: want a number from 0 to 65535`},
		"queued":              {"max_queued_messages -2", `x.conf:1: max_queued_messages: want a number from 0 to`},
		"retained bytes":      {"max_retained_bytes lots", `x.conf:1: max_retained_bytes: want a number from 0 to`},
		"memory no unit":      {"memory_soft_limit 512", `x.conf:1: memory_soft_limit: want a size of at least 16MiB such as 512MiB or 2GiB (suffixes B, KiB, MiB, GiB, TiB, as in GOMEMLIMIT), or 0 for no limit, got "512"`},
		"memory unit":         {"memory_soft_limit 1.5G", `x.conf:1: memory_soft_limit: want a size of at least 16MiB such as 512MiB`},
		"memory_limit":        {"memory_limit 1000000", `x.conf:1: memory_limit: mosquitto option not supported by mqtls: mqtls has no hard limit that refuses allocations: set memory_soft_limit`},
		"retained persist":    {"retained_persistence yes", `x.conf:1: retained_persistence: want true or false, got "yes"`},
		"connections":         {"listener 1\nmax_connections lots", `x.conf:2: max_connections: want -1 (no limit) or a positive number, got "lots"`},
		"log type":            {"log_type verbose", `x.conf:1: log_type: unknown log type "verbose"`},
		"log dest":            {"log_dest syslog", `x.conf:1: log_dest: log destination "syslog" is not supported by mqtls`},
		"log dest junk":       {"log_dest printer", `x.conf:1: log_dest: unknown log destination "printer"`},
		"log file no path":    {"log_dest file", `x.conf:1: log_dest: "log_dest file" needs a path`},
		"two log files":       {"log_dest file a\nlog_dest file b", `x.conf:2: log_dest: only one log file may be given`},
		"per listener first":  {"per_listener_settings true\npassword_file p\nlistener 1", `x.conf:2: password_file: with per_listener_settings true, security options must follow a listener line`},
		"plugin per listener": {"per_listener_settings true\nlistener 1\nplugin /a/mosquitto_dynamic_security.so\nplugin_opt_config_file a.json\nlistener 2\nplugin /a/mosquitto_dynamic_security.so", `x.conf:6: plugin: the dynamic security plugin is already loaded on line 3; it can be loaded only once (also with per_listener_settings true`},
		"per listener bool":   {"per_listener_settings maybe", `x.conf:1: per_listener_settings: want true or false, got "maybe"`},
		"inspector addr":      {"inspector 8088", `x.conf:1: inspector: want HOST:PORT such as 127.0.0.1:8088, got "8088"`},
		"scheme mode":         {"topic_scheme_mode strict", `x.conf:1: topic_scheme_mode: want enforce or log, got "strict"`},
		"metrics":             {"metrics on", `x.conf:1: metrics: want true or false, got "on"`},
		"metrics alone":       {"# x\nmetrics true", `x.conf:2: metrics: metrics are served by the inspector: add "inspector 127.0.0.1:8088"`},
		"inspector topics":    {"inspector_max_topics 0", `x.conf:1: inspector_max_topics: want a number from 1 to`},
		"long line":           {"listener 1\n" + strings.Repeat("x", maxLine+1), `x.conf:2: line longer than`},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.conf", []byte(tc.text))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.want) {
				t.Fatalf("error = %q\nwant prefix %q", err, tc.want)
			}
			var ce *Error
			if !errors.As(err, &ce) || ce.File != "x.conf" {
				t.Fatalf("error %T is not a *conf.Error naming the file", err)
			}
		})
	}
}

// TestMemorySoftLimit: GOMEMLIMIT's sizes are read as the runtime reads
// them; 0 is no limit; what is too small to be meant, negative, too large
// or in another unit is refused.
func TestMemorySoftLimit(t *testing.T) {
	for v, want := range map[string]int64{
		"0": 0, "16MiB": 16 << 20, "16777216": 16 << 20, "16777216B": 16 << 20, "20000KiB": 20000 << 10,
		"512MiB": 512 << 20, "2GiB": 2 << 30, "1TiB": 1 << 40, "1024TiB": 1 << 50,
	} {
		c, err := Parse("x.conf", []byte("memory_soft_limit "+v))
		if err != nil || c.MemorySoftLimit != want {
			t.Errorf("memory_soft_limit %s = %d, %v; want %d", v, c.MemorySoftLimit, err, want)
		}
	}
	for _, v := range []string{"", "none", "-1", "-1GiB", "15MiB", "16777215", "1025TiB", "99999999999999999999", "1 GiB", "1gib", "1G", "1.5GiB", "0x10MiB", "GiB", "1KB"} {
		if c, err := Parse("x.conf", []byte("memory_soft_limit "+v)); err == nil {
			t.Errorf("memory_soft_limit %q accepted as %d", v, c.MemorySoftLimit)
		}
	}
}

func TestUnknownVersusUnsupported(t *testing.T) {
	_, err := Parse("x.conf", []byte("listner 1883"))
	if !errors.Is(err, ErrUnknown) {
		t.Errorf("misspelt option: %v", err)
	}
	_, err = Parse("x.conf", []byte("bind_interface eth0"))
	if !errors.Is(err, ErrUnsupported) {
		t.Errorf("mosquitto option: %v", err)
	}
}

func TestCommentsAndWhitespace(t *testing.T) {
	c, err := Parse("x.conf", []byte("  # indented comment\r\n\tlistener 1883\r\nallow_anonymous\ttrue\n\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 1 || c.Security.AllowAnonymous == nil || !*c.Security.AllowAnonymous {
		t.Errorf("config = %+v", c)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("listener 1883\nallow_anonymous true\n"))
	f.Add([]byte("listener 8883\ncafile a\ncertfile b\nkeyfile c\nrequire_certificate true\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := Parse("f.conf", b)
		if err == nil && c == nil {
			t.Fatal("nil config without error")
		}
	})
}

// TestLoadBounded: a file far larger than any configuration is refused
// after a bounded read.
func TestLoadBounded(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.conf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Truncate(maxFileSize + 1); err != nil { // sparse
		t.Fatal(err)
	}
	f.Close()
	_, err = Load(path)
	if err == nil || !strings.Contains(err.Error(), "is larger than 1024 KiB: is it a mosquitto.conf?") {
		t.Errorf("Load of a 1 MiB + 1 file = %v", err)
	}
}

// TestEveryMosquittoOptionKnown: each option of Mosquitto 2.0's man page is
// implemented, warned about or refused with a reason (never "unknown"), and
// the README's table says which.
func TestEveryMosquittoOptionKnown(t *testing.T) {
	b, err := os.ReadFile("testdata/mosquitto-2.0.11-options.txt")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	known := Known()
	for _, name := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if strings.HasPrefix(name, "#") {
			continue
		}
		if !strings.HasSuffix(name, "*") && !slices.Contains(known, name) {
			t.Errorf("%s: not known to the parser", name)
		}
		if !inTable(string(readme), strings.TrimSuffix(name, "*")) {
			t.Errorf("%s: not in the README's option table", name)
		}
	}
}

// TestAllErrorsAtOnce: a file with several problems reports each of them,
// in file order, in one error.
func TestAllErrorsAtOnce(t *testing.T) {
	text := "listener 1883\nallow_anonymus true\nmax_keepalive 5\npsk_file p\nlistener x\nlog_dest file\n"
	_, err := Parse("x.conf", []byte(text))
	if err == nil {
		t.Fatal("no error")
	}
	want := []string{
		"x.conf:2: allow_anonymus: unknown option: did you mean allow_anonymous?",
		"x.conf:3: max_keepalive: want a number from 10 to 65535",
		"x.conf:4: psk_file: mosquitto option not supported by mqtls",
		"x.conf:5: listener: port \"x\" is not a number",
		"x.conf:6: log_dest: \"log_dest file\" needs a path",
	}
	lines := strings.Split(err.Error(), "\n")
	if len(lines) != len(want) {
		t.Fatalf("got %d lines, want %d:\n%v", len(lines), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(lines[i], w) {
			t.Errorf("line %d = %q, want prefix %q", i+1, lines[i], w)
		}
	}
}

func TestDidYouMean(t *testing.T) {
	for in, want := range map[string]string{
		"listner": "listener", "persistance": "persistence", "pid_fle": "pid_file",
		"max_inflight_message": "max_inflight_messages", "cafiel": "cafile", "xyzzy": "", "porx": "port",
	} {
		if got := didYouMean(in); got != want {
			t.Errorf("didYouMean(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestIncludeDir: the *.conf files of include_dir are read in Mosquitto's
// order (case-insensitive, upper case first on a tie), in place of the
// line; their errors name their own file; include_dir in an included file
// is refused.
func TestIncludeDir(t *testing.T) {
	dir := t.TempDir()
	inc := filepath.Join(dir, "conf.d")
	if err := os.Mkdir(inc, 0o700); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"b.conf":      "listener 1002\n",
		"A.conf":      "listener 1000\n",
		"a.conf":      "listener 1001\n",
		"_z.conf":     "listener 1003\n",
		"c.conf.bak":  "listener 9999\n",
		"README":      "not a config\n",
		"Z_last.conf": "listener 1004\n",
	}
	for n, text := range files {
		if err := os.WriteFile(filepath.Join(inc, n), []byte(text), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	main := filepath.Join(dir, "mosquitto.conf")
	if err := os.WriteFile(main, []byte("listener 999\ninclude_dir "+inc+"\nallow_anonymous true\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(main)
	if err != nil {
		t.Fatal(err)
	}
	var ports []int
	for _, l := range c.Listeners {
		ports = append(ports, l.Port)
	}
	// '_' (0x5F) sorts after the upper-case letters, as toupper leaves it.
	if want := []int{999, 1000, 1001, 1002, 1004, 1003}; !slices.Equal(ports, want) {
		t.Errorf("listener order %v, want %v", ports, want)
	}
	if err := os.WriteFile(filepath.Join(inc, "b.conf"), []byte("listener 1002\n\nmax_keepalive 1\ninclude_dir /x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = Load(main)
	for _, w := range []string{
		filepath.Join(inc, "b.conf") + ":3: max_keepalive: want a number",
		filepath.Join(inc, "b.conf") + ":4: include_dir: include_dir is read from the main configuration file only",
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v, want it to hold %q", err, w)
		}
	}
}

// TestDefaultListener: port, bind_address and listener options before any
// listener line make Mosquitto's default listener.
func TestDefaultListener(t *testing.T) {
	c, err := Parse("x.conf", []byte("port 1884\nbind_address 127.0.0.1\nmax_connections 5\nlistener 1885\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Listeners) != 2 {
		t.Fatalf("listeners %+v", c.Listeners)
	}
	d := c.Listeners[0]
	if !d.Default || d.Port != 1884 || d.Bind != "127.0.0.1" || d.MaxConnections != 5 || c.Listeners[1].Port != 1885 {
		t.Errorf("default listener %+v", d)
	}
}

// TestMountPoint: mount_point belongs to the listener it follows, the
// default listener included.
func TestMountPoint(t *testing.T) {
	c, err := Parse("x.conf", []byte("mount_point a/\nlistener 1885\nlistener 1886\nmount_point tenant 2/\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range c.Listeners {
		got = append(got, l.MountPoint)
	}
	if want := []string{"a/", "", "tenant 2/"}; !slices.Equal(got, want) {
		t.Errorf("mount points %q, want %q", got, want)
	}
}

// TestWarnings: an option with no meaning for mqtls is accepted and named
// in a warning with file and line.
func TestWarnings(t *testing.T) {
	c, err := Parse("x.conf", []byte("user mosquitto\nlistener 1\nautosave_interval 60\nset_tcp_nodelay true\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"x.conf:1: user: accepted and ignored: mqtls does not change user: start it as the user it should run as",
		"x.conf:3: autosave_interval: accepted and ignored: mqtls's store writes every change as it happens",
	}
	if !slices.Equal(c.Warnings, want) {
		t.Errorf("warnings %q\nwant %q", c.Warnings, want)
	}
}

func TestNewOptions(t *testing.T) {
	c, err := Parse("x.conf", []byte(`pid_file /run/m.pid
message_size_limit 1000
persistent_client_expiration 2d
connection_messages false
log_timestamp_format %Y-%m-%dT%H:%M:%S
sys_interval 0
allow_zero_length_clientid false
auto_id_prefix dev-
listener 1883
socket_domain ipv4
`))
	if err != nil {
		t.Fatal(err)
	}
	l := c.Listeners[0]
	if c.PIDFile != "/run/m.pid" || c.MessageSizeLimit != 1000 || c.PersistentClientExpiration != 2*86400 || c.ConnectionMessages ||
		c.LogTimestampFormat != "%Y-%m-%dT%H:%M:%S" || c.SysInterval != 0 || !c.Security.NoZeroLengthClientID || c.Security.AutoIDPrefix != "dev-" ||
		l.SocketDomain != "ipv4" {
		t.Errorf("config %+v\nlistener %+v", c, l)
	}
}

// inTable reports whether a line of a markdown table names the option
// (`name`, `name VALUE`, or `prefix...` for a name ending in '_').
func inTable(doc, name string) bool {
	for _, ln := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(ln, "| ") {
			continue
		}
		if strings.Contains(ln, "`"+name+"`") || strings.Contains(ln, "`"+name+" ") ||
			(strings.HasSuffix(name, "_") && strings.Contains(ln, "`"+name)) {
			return true
		}
	}
	return false
}
