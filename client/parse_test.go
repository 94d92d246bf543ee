package client

import (
	"math"
	"strings"
	"testing"
)

func TestApplyURL(t *testing.T) {
	for in, want := range map[string]struct {
		host, user, pass, topic string
		port                    int
		tls, ws                 bool
		err                     string
	}{
		"mqtt://h":                      {host: "h"},
		"mqtts://u:p@broker:8884/a/b":   {host: "broker", port: 8884, user: "u", pass: "p", topic: "a/b", tls: true},
		"ws://[::1]:9001/t":             {host: "::1", port: 9001, topic: "t", ws: true},
		"wss://u@h/x":                   {host: "h", user: "u", topic: "x", ws: true, tls: true},
		"http://h/t":                    {err: "it must start with mqtt://, mqtts://, ws:// or wss://"},
		"mqtt://h:port/t":               {err: "invalid -L url"},
		"mqtt://h/devices/#":            {host: "h", topic: "devices/#"},
		"mqtt://h:1884/+/temp/#":        {host: "h", port: 1884, topic: "+/temp/#"},
		"mqtt://h/#":                    {host: "h", topic: "#"},
		"mqtt://h/a%20b?x":              {host: "h", topic: "a%20b?x"},
		"mqtt://u:p#w@h/t":              {err: "use -u and -P"},
		"mqtt://h:99999999999999999999": {err: "is not a number"},
	} {
		var o Options
		topic, err := o.ApplyURL(in)
		if want.err != "" {
			if err == nil || !strings.Contains(err.Error(), want.err) {
				t.Errorf("%s: %v, want an error with %q", in, err, want.err)
			}
			continue
		}
		if err != nil || o.Host != want.host || o.Port != want.port || o.Username != want.user || o.Password != want.pass ||
			topic != want.topic || (o.TLS != nil) != want.tls || o.WebSocket != want.ws {
			t.Errorf("%s: %+v topic %q err %v, want %+v", in, o, topic, err, want)
		}
	}
}

func TestParseVersionAndExpiry(t *testing.T) {
	for in, want := range map[string]byte{"5": V5, "MQTTv5": V5, "311": V311, "mqttv311": V311, "31": V31, "mqttv31": V31, "4": 0, "": 0} {
		got, err := ParseVersion(in)
		if (want == 0) != (err != nil) || got != want {
			t.Errorf("ParseVersion(%q) = %d, %v", in, got, err)
		}
	}
	for in, want := range map[string]int64{"0": 0, "60": 60, "-1": math.MaxUint32, "∞": math.MaxUint32, "4294967295": math.MaxUint32, "4294967296": -1, "-2": -1, "x": -1} {
		got, err := ParseSessionExpiry(in)
		if want < 0 {
			if err == nil {
				t.Errorf("ParseSessionExpiry(%q) = %d, want an error", in, got)
			}
			continue
		}
		if err != nil || int64(got) != want {
			t.Errorf("ParseSessionExpiry(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
}

func TestSetProperties(t *testing.T) {
	var o Options
	for _, p := range [][3]string{{"user-property", "k", "v"}, {"session-expiry-interval", "", "30"}} {
		if err := o.SetConnectProperty(p[0], p[1], p[2]); err != nil {
			t.Fatal(err)
		}
	}
	if len(o.ConnectProperties) != 1 || o.ConnectProperties[0] != (UserProperty{"k", "v"}) || o.SessionExpiry != 30 {
		t.Errorf("CONNECT properties: %+v", o)
	}
	if err := o.SetConnectProperty("content-type", "", "x"); err == nil || !strings.HasPrefix(err.Error(), "is not supported") {
		t.Errorf("CONNECT content-type: %v", err)
	}
	var p Properties
	for _, s := range [][3]string{
		{"user-property", "a", "1"}, {"content-type", "", "text/plain"}, {"response-topic", "", "r/t"},
		{"correlation-data", "", "c"}, {"message-expiry-interval", "", "10"}, {"payload-format-indicator", "", "1"},
	} {
		if err := p.Set(s[0], s[1], s[2]); err != nil {
			t.Fatalf("%v: %v", s, err)
		}
	}
	if len(p.User) != 1 || p.ContentType != "text/plain" || p.ResponseTopic != "r/t" || string(p.CorrelationData) != "c" ||
		*p.MessageExpiry != 10 || *p.PayloadFormat != 1 {
		t.Errorf("PUBLISH properties: %+v", p)
	}
	for _, bad := range [][2]string{{"payload-format-indicator", "2"}, {"message-expiry-interval", "-1"}, {"topic-alias", "1"}} {
		if err := p.Set(bad[0], "", bad[1]); err == nil {
			t.Errorf("%s %s accepted", bad[0], bad[1])
		}
	}
}
