package client

// What the Mosquitto tools read from their command line into Options and
// Properties: the -L url, -V, -x and the -D properties.

import (
	"fmt"
	"math"
	"net/url"
	"strconv"
	"strings"
)

// ApplyURL reads a -L url, mqtt(s)://[user[:password]@]host[:port][/topic]
// (ws:// and wss:// too), into o and returns its topic ("" when it has
// none: mosquitto_ctrl's -L has none, pub and sub require one). As in
// mosquitto_pub/sub, the topic is everything after the first '/' that
// follows the host, taken literally: a '#' or '+' in it is a wildcard
// (not a URL fragment), and %XX is not decoded.
func (o *Options) ApplyURL(s string) (topic string, err error) {
	authority := s
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		host, path, _ := strings.Cut(rest, "/")
		authority, topic = scheme+"://"+host, path
	}
	if strings.ContainsAny(authority, "?#") {
		return "", fmt.Errorf("invalid -L url %q: the host part has a '?' or '#': use -u and -P for such a user name or password", s)
	}
	u, err := url.Parse(authority)
	if err != nil {
		return "", fmt.Errorf("invalid -L url: %v", err)
	}
	switch u.Scheme {
	case "mqtt":
	case "mqtts":
		o.TLS = &TLSOptions{}
	case "ws":
		o.WebSocket = true
	case "wss":
		o.WebSocket = true
		o.TLS = &TLSOptions{}
	default:
		return "", fmt.Errorf("invalid -L url %q: it must start with mqtt://, mqtts://, ws:// or wss://", s)
	}
	o.Host = u.Hostname()
	if p := u.Port(); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", fmt.Errorf("invalid -L url: port %q is not a number", p)
		}
		o.Port = n
	}
	if u.User != nil {
		o.Username = u.User.Username()
		if p, ok := u.User.Password(); ok {
			o.Password = p
		}
	}
	return topic, nil
}

// ParseVersion reads -V: mqttv5 (5), mqttv311 (311) or mqttv31 (31).
func ParseVersion(s string) (byte, error) {
	switch strings.ToLower(s) {
	case "5", "mqttv5":
		return V5, nil
	case "311", "mqttv311":
		return V311, nil
	case "31", "mqttv31":
		return V31, nil
	}
	return 0, fmt.Errorf("unknown protocol version %q: use mqttv5, mqttv311 or mqttv31", s)
}

// ParseSessionExpiry reads -x: seconds, or -1 / ∞ for "never".
func ParseSessionExpiry(s string) (uint32, error) {
	switch s {
	case "-1", "∞", "4294967295":
		return math.MaxUint32, nil
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, fmt.Errorf("session expiry %q is not a number of seconds, -1 or ∞", s)
	}
	return uint32(n), nil
}

// SetConnectProperty applies one -D CONNECT property (user-property NAME
// VALUE, or session-expiry-interval VALUE; name is "" for the latter). Its
// errors read after the property name ("session-expiry-interval " + err).
func (o *Options) SetConnectProperty(id, name, val string) error {
	switch id {
	case "user-property":
		o.ConnectProperties = append(o.ConnectProperties, UserProperty{Key: name, Value: val})
	case "session-expiry-interval":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return fmt.Errorf("%q: not a number of seconds", val)
		}
		o.SessionExpiry = uint32(n)
	default:
		return fmt.Errorf("is not supported (user-property and session-expiry-interval are)")
	}
	return nil
}

// Set applies one -D PUBLISH or WILL property: user-property NAME VALUE
// (name is "" for the others), content-type, response-topic,
// correlation-data, message-expiry-interval or payload-format-indicator.
func (p *Properties) Set(id, name, val string) error {
	switch id {
	case "user-property":
		p.User = append(p.User, UserProperty{Key: name, Value: val})
	case "content-type":
		p.ContentType = val
	case "response-topic":
		p.ResponseTopic = val
	case "correlation-data":
		p.CorrelationData = []byte(val)
	case "message-expiry-interval":
		n, err := strconv.ParseUint(val, 10, 32)
		if err != nil {
			return fmt.Errorf("%q is not a number of seconds", val)
		}
		v := uint32(n)
		p.MessageExpiry = &v
	case "payload-format-indicator":
		n, err := strconv.ParseUint(val, 10, 8)
		if err != nil || n > 1 {
			return fmt.Errorf("%q is not 0 or 1", val)
		}
		v := byte(n)
		p.PayloadFormat = &v
	default:
		return fmt.Errorf("not supported (user-property, content-type, response-topic, correlation-data, message-expiry-interval and payload-format-indicator are)")
	}
	return nil
}
