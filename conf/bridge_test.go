package conf

import (
	"strings"
	"testing"
)

func TestBridge(t *testing.T) {
	text := `listener 1883
connection cloud
address broker.example:8883 [::1]:8884 backup.example
round_robin true
remote_clientid edge01
topic sensors/# out 1
topic cmd/# in 2 local/ remote/
topic "" both 0 here/x there/y
bridge_cafile ca.crt
bridge_certfile edge01.crt
bridge_keyfile edge01.key
bridge_tls_version tlsv1.3
keepalive_interval 30
restart_timeout 2 10
cleansession true
local_cleansession false
notifications false
bridge_max_packet_size 4096
remote_username u
remote_password_file pw
connection other
address 127.0.0.1
topic # both
restart_timeout 7
try_private false
bridge_protocol_version mqttv50
start_type lazy
threshold 3
idle_timeout 2
`
	c, err := Parse("x.conf", []byte(text))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Bridges) != 2 {
		t.Fatalf("%d bridges", len(c.Bridges))
	}
	b := c.Bridges[0]
	if b.Name != "cloud" || b.Line != 2 || strings.Join(b.Addresses, ",") != "broker.example:8883,[::1]:8884,backup.example:1883" ||
		!b.RoundRobin || b.RemoteClientID != "edge01" || !b.TLS() || b.CertFile != "edge01.crt" || b.TLSVersion != "tlsv1.3" ||
		b.Keepalive != 30 || b.RestartBase != 2 || b.RestartCap != 10 || !b.CleanSession || b.LocalCleanSession == nil || *b.LocalCleanSession ||
		b.Notifications || b.MaxPacketSize != 4096 || b.RemotePasswordFile != "pw" || !b.TryPrivate {
		t.Errorf("bridge = %+v", b)
	}
	want := []BridgeTopic{
		{Line: 6, Pattern: "sensors/#", Direction: "out", QoS: 1},
		{Line: 7, Pattern: "cmd/#", Direction: "in", QoS: 2, LocalPrefix: "local/", RemotePrefix: "remote/"},
		{Line: 8, Pattern: "", Direction: "both", LocalPrefix: "here/x", RemotePrefix: "there/y"},
	}
	for i, w := range want {
		if b.Topics[i] != w {
			t.Errorf("topic %d = %+v, want %+v", i, b.Topics[i], w)
		}
	}
	o := c.Bridges[1]
	if o.Addresses[0] != "127.0.0.1:1883" || o.ProtocolVersion != "mqttv50" || !o.Lazy || o.Threshold != 3 || o.IdleTimeout != 2 || b.Threshold != 10 || b.IdleTimeout != 60 || o.RestartBase != 7 || o.RestartCap != 0 || o.TryPrivate || !o.Notifications ||
		b.ProtocolVersion != "mqttv311" || o.Keepalive != 60 || o.CleanSession || o.Topics[0].QoS != 0 {
		t.Errorf("defaults = %+v", o)
	}
}

// TestBridgeErrors: every refused bridge config names file, line and option.
func TestBridgeErrors(t *testing.T) {
	ok := "\naddress h\ntopic #"
	cases := map[string]struct{ text, want string }{
		"no address":     {"connection b\ntopic #", `x.conf:1: connection: bridge b has no address`},
		"no topic":       {"connection b\naddress h", `x.conf:1: connection: bridge b has no topic`},
		"bad name":       {"connection a/b" + ok, `x.conf:1: connection: want "connection NAME" with a name without spaces`},
		"twice":          {"connection b" + ok + "\nconnection b" + ok, `x.conf:4: connection: a bridge named "b" is already declared at x.conf:1`},
		"direction":      {"connection b\naddress h\ntopic # sideways", `x.conf:3: topic: direction "sideways": want in, out or both`},
		"qos":            {"connection b\naddress h\ntopic # in 3", `x.conf:3: topic: qos "3": want 0, 1 or 2`},
		"one prefix":     {"connection b\naddress h\ntopic # in 1 l/", `x.conf:3: topic: want "topic PATTERN [in|out|both [QOS [LOCAL-PREFIX REMOTE-PREFIX]]]"`},
		"empty pattern":  {"connection b\naddress h\ntopic \"\" in 1 l/ \"\"", `x.conf:3: topic: an empty pattern needs both a local and a remote prefix`},
		"wild prefix":    {"connection b\naddress h\ntopic # in 1 l/+/ r/", `x.conf:3: topic: prefix "l/+/" may not hold '+' or '#'`},
		"bad filter":     {"connection b\naddress h\ntopic a/#/b", `x.conf:3: topic: "a/#/b": '#' must be the last level, alone`},
		"port":           {"connection b\naddress h:99999\ntopic #", `x.conf:2: address: want HOST[:PORT] with a port from 1 to 65535, got "h:99999"`},
		"ipv6":           {"connection b\naddress ::1\ntopic #", `x.conf:2: address: an IPv6 address needs its port: [::1]:1883`},
		"version":        {"connection b" + ok + "\nbridge_protocol_version mqttv5", `x.conf:4: bridge_protocol_version: want mqttv311, mqttv31 or mqttv50, got "mqttv5"`},
		"keepalive":      {"connection b" + ok + "\nkeepalive_interval 2", `x.conf:4: keepalive_interval: want a number from 5 to 65535, got "2"`},
		"restart":        {"connection b" + ok + "\nrestart_timeout 10 5", `x.conf:4: restart_timeout: want BASE CAP with CAP at least BASE`},
		"start":          {"connection b" + ok + "\nstart_type manual", `x.conf:4: start_type: want automatic, lazy or once, got "manual"`},
		"threshold":      {"connection b" + ok + "\nthreshold 0", `x.conf:4: threshold: want a number from 1 to`},
		"psk":            {"connection b" + ok + "\nbridge_psk 00", `x.conf:4: bridge_psk: mosquitto option not supported by mqtls: pre-shared keys`},
		"tls no ca":      {"connection b" + ok + "\nbridge_certfile c\nbridge_keyfile k", `x.conf:1: connection: bridge b sets bridge_certfile but no bridge_cafile`},
		"cert no key":    {"connection b" + ok + "\nbridge_cafile ca\nbridge_certfile c", `x.conf:1: connection: bridge b has bridge_certfile but no bridge_keyfile`},
		"password alone": {"connection b" + ok + "\nremote_password p", `x.conf:1: connection: bridge b has a remote password but no remote_username`},
		"two passwords":  {"connection b" + ok + "\nremote_username u\nremote_password p\nremote_password_file f", `x.conf:1: connection: bridge b has remote_password and remote_password_file`},
		"tls 1.1":        {"connection b" + ok + "\nbridge_tls_version tlsv1.1", `x.conf:4: bridge_tls_version: tlsv1.1 is not supported`},
		"ocsp":           {"connection b" + ok + "\nbridge_require_ocsp true", `x.conf:4: bridge_require_ocsp: mosquitto option not supported by mqtls: true is not supported`},
		"notify topic":   {"connection b" + ok + "\nnotification_topic a/#", `x.conf:4: notification_topic: a notification topic may not hold '+' or '#'`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse("x.conf", []byte(c.text))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("err = %v\nwant %s", err, c.want)
			}
		})
	}
}

// TestBridgePasswordNotEchoed: a refused password line does not repeat the
// password.
func TestBridgePasswordNotEchoed(t *testing.T) {
	_, err := Parse("x.conf", []byte("connection b\naddress h\ntopic #\nremote_password s3cret"))
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("err = %v", err)
	}
}
