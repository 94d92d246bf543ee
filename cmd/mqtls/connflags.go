package main

// The connection flags of mosquitto_pub and mosquitto_sub, shared by every
// command that talks to a broker (pub, sub, watch, dynsec, device, topic lint).

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/urfave/cli/v2"

	"mqtls/client"
)

const (
	catConn = "CONNECTION"
	catTLS  = "TLS"
	catWill = "WILL"
)

// connFlags returns fresh connection flags (urfave flags hold state, so each
// command gets its own).
func connFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "host", Aliases: []string{"h"}, Value: "localhost", Usage: "broker `HOST` to connect to", Category: catConn},
		&cli.IntFlag{Name: "port", Aliases: []string{"p"}, Usage: "broker `PORT` (default 1883, or 8883 with TLS)", Category: catConn},
		&cli.StringFlag{Name: "url", Aliases: []string{"L"}, Usage: "mqtt(s)://[user[:password]@]host[:port][/topic] in one `URL` (pub and sub need the topic)", Category: catConn},
		&cli.BoolFlag{Name: "ws", Usage: "MQTT over WebSockets (wss with TLS)", Category: catConn},
		&cli.StringFlag{Name: "ws-path", Value: "/mqtt", Usage: "HTTP `PATH` of the WebSocket listener", Category: catConn},
		&cli.StringFlag{Name: "unix", Usage: "connect to the unix socket `PATH` instead of host and port", Category: catConn},
		&cli.StringFlag{Name: "bind", Aliases: []string{"A"}, Usage: "local `ADDRESS` to connect from", Category: catConn},
		&cli.StringFlag{Name: "id", Aliases: []string{"i"}, Usage: "client `ID` (default: the broker assigns one)", Category: catConn},
		&cli.StringFlag{Name: "id-prefix", Aliases: []string{"I"}, Usage: "client id made of `PREFIX` and the process id", Category: catConn},
		&cli.IntFlag{Name: "keepalive", Aliases: []string{"k"}, Value: 60, Usage: "keepalive in `SECONDS` (5-65535)", Category: catConn},
		&cli.StringFlag{Name: "username", Aliases: []string{"u"}, Usage: "`USERNAME` to log in with", Category: catConn},
		&cli.StringFlag{Name: "pw", Aliases: []string{"P"}, Usage: "`PASSWORD` (visible to other users in the process list: prefer --password-file or $MQTT_PASSWORD)", Category: catConn},
		&cli.StringFlag{Name: "password-file", Usage: "read the password from the first line of `FILE`", EnvVars: nil, Category: catConn},
		&cli.StringFlag{Name: "protocol-version", Aliases: []string{"V"}, Value: "5", Usage: "MQTT `VERSION`: mqttv5, mqttv311, mqttv31 (or 5, 311, 31)", Category: catConn},
		&cli.BoolFlag{Name: "disable-clean-session", Aliases: []string{"c"}, Usage: "ask the broker to keep the session (needs -i)", Category: catConn},
		&cli.StringFlag{Name: "session-expiry", Aliases: []string{"x"}, Usage: "MQTT 5 session expiry in `SECONDS`; -1 or ∞ for never (default -1 with -c, else 0)", Category: catConn},
		&cli.BoolFlag{Name: "debug", Aliases: []string{"d"}, Usage: "print a line per MQTT packet, as the Mosquitto tools do", Category: catConn},
		&cli.BoolFlag{Name: "quiet", Usage: "print no error messages", Category: catConn},
		&cli.BoolFlag{Name: "nodelay", Usage: "accepted: Nagle's algorithm is always off (Go's default for TCP)", Category: catConn},

		&cli.StringFlag{Name: "cafile", Usage: "trust the CA certificates in PEM `FILE` (turns TLS on)", Category: catTLS},
		&cli.StringFlag{Name: "capath", Usage: "trust the PEM CA certificates in `DIR` (turns TLS on)", Category: catTLS},
		&cli.StringFlag{Name: "cert", Usage: "client certificate PEM `FILE`, for mutual TLS", Category: catTLS},
		&cli.StringFlag{Name: "key", Usage: "client private key PEM `FILE`", Category: catTLS},
		&cli.StringFlag{Name: "p12", Usage: "client key and certificate from the PKCS#12 `FILE` (what a phone holds)", Category: catTLS},
		&cli.StringFlag{Name: "p12-password-file", Usage: "read the p12 password from the first line of `FILE` (else $MQTLS_P12_PASSWORD)", Category: catTLS},
		&cli.BoolFlag{Name: "insecure", Usage: "do not check the broker's name against its certificate (the chain is still checked)", Category: catTLS},
		&cli.StringFlag{Name: "tls-version", Usage: "lowest TLS `VERSION`: tlsv1.3, tlsv1.2 or tlsv1.1", Category: catTLS},
		&cli.StringSliceFlag{Name: "tls-alpn", Usage: "offer `PROTOCOL` by ALPN", Category: catTLS},
		&cli.BoolFlag{Name: "tls-use-os-certs", Usage: "turn TLS on and trust the system's CA certificates", Category: catTLS},

		&cli.StringFlag{Name: "will-topic", Usage: "`TOPIC` of the last will", Category: catWill},
		&cli.StringFlag{Name: "will-payload", Usage: "`PAYLOAD` of the last will (default empty)", Category: catWill},
		&cli.IntFlag{Name: "will-qos", Usage: "`QOS` of the last will", Category: catWill},
		&cli.BoolFlag{Name: "will-retain", Usage: "retain the last will", Category: catWill},
	}
}

// connOptions turns the connection flags into client options. The second
// result is the topic of a -L URL, if any (commands that take no topic, such
// as dynsec, device and watch, accept a URL without one).
func connOptions(c *cli.Context) (client.Options, string, error) {
	var o client.Options
	o.Host = c.String("host")
	o.Port = c.Int("port")
	o.Bind = c.String("bind")
	o.Unix = c.String("unix")
	o.WebSocket = c.Bool("ws")
	o.WebSocketPath = c.String("ws-path")
	o.Username = c.String("username")
	urlTopic := ""
	if u := c.String("url"); u != "" {
		var err error
		if urlTopic, err = o.ApplyURL(u); err != nil {
			return o, "", err
		}
	}

	if c.IsSet("id") && c.IsSet("id-prefix") {
		return o, "", fmt.Errorf("-i and -I cannot be used together")
	}
	o.ClientID = c.String("id")
	if p := c.String("id-prefix"); p != "" {
		o.ClientID = p + strconv.Itoa(os.Getpid())
	}
	k := c.Int("keepalive")
	if k < 5 || k > 65535 {
		return o, "", fmt.Errorf("keepalive %d is out of range: use 5 to 65535 seconds", k)
	}
	o.KeepAlive = uint16(k)

	v, err := client.ParseVersion(c.String("protocol-version"))
	if err != nil {
		return o, "", err
	}
	o.Version = v

	pw, err := password(c)
	if err != nil {
		return o, "", err
	}
	if argvPassword(c) && !c.Bool("quiet") {
		warnf(c.App.ErrWriter, "%s: %s", argvPasswordProblem, argvPasswordHint)
	}
	if pw != "" {
		o.Password = pw
	}
	if o.Password != "" && o.Username == "" {
		return o, "", fmt.Errorf("a password needs a username: give one with -u")
	}

	// The rules of mosquitto_pub/sub: -x counts with MQTT 5 only; -c needs a
	// client id, and so does a session that never expires (-c alone, -x -1).
	o.NoCleanSession = c.Bool("disable-clean-session")
	if c.IsSet("session-expiry") {
		se, err := client.ParseSessionExpiry(c.String("session-expiry"))
		if err != nil {
			return o, "", err
		}
		if o.Version == client.V5 {
			o.SessionExpiry = se
		}
	} else if o.NoCleanSession && o.Version == client.V5 {
		o.SessionExpiry = math.MaxUint32
	}
	if o.ClientID == "" && o.Version == client.V5 && o.SessionExpiry == math.MaxUint32 {
		return o, "", fmt.Errorf("a session that never expires needs a client id: give one with -i")
	}
	if o.ClientID == "" && o.NoCleanSession {
		return o, "", fmt.Errorf("-c needs a client id: give one with -i")
	}

	if tlsOn(c) || o.TLS != nil {
		t := &client.TLSOptions{
			CAFile:   c.String("cafile"),
			CAPath:   c.String("capath"),
			CertFile: c.String("cert"),
			KeyFile:  c.String("key"),
			P12File:  c.String("p12"),
			Insecure: c.Bool("insecure"),
			Version:  c.String("tls-version"),
			ALPN:     c.StringSlice("tls-alpn"),
		}
		if !c.Bool("quiet") {
			w := c.App.ErrWriter
			t.Warn = func(m string) { warnf(w, "%s", m) }
		}
		if t.P12File != "" {
			p, err := p12Password(c)
			if err != nil {
				return o, "", err
			}
			t.P12Password = p
		}
		o.TLS = t
	}

	if wt := c.String("will-topic"); wt != "" {
		q := c.Int("will-qos")
		if q < 0 || q > 2 {
			return o, "", fmt.Errorf("will qos %d is not 0, 1 or 2", q)
		}
		o.Will = &client.Message{Topic: wt, Payload: []byte(c.String("will-payload")), QoS: byte(q), Retain: c.Bool("will-retain")}
	} else if c.IsSet("will-payload") || c.IsSet("will-qos") || c.IsSet("will-retain") {
		return o, "", fmt.Errorf("will payload, qos or retain given, but no will topic: add --will-topic")
	}
	return o, urlTopic, nil
}

func tlsOn(c *cli.Context) bool {
	for _, n := range []string{"cafile", "capath", "cert", "key", "p12", "insecure", "tls-version", "tls-alpn", "tls-use-os-certs"} {
		if c.IsSet(n) {
			return true
		}
	}
	return false
}

// urlTopicNeeded is the error of pub and sub for a -L url without a topic.
func urlTopicNeeded(c *cli.Context, urlTopic string) error {
	if c.String("url") != "" && urlTopic == "" {
		return fmt.Errorf("invalid -L url: the topic is missing (mqtt://host[:port]/topic)")
	}
	return nil
}

// password comes from -P, --password-file or $MQTT_PASSWORD, in that order.
// The one line about a password given on the command line: a warning from
// the commands that take one (pub, sub, watch, topic lint --from-broker),
// an error from the admin tools, which do not.
const (
	argvPasswordProblem = "a password on the command line is visible to every user of this machine"
	argvPasswordHint    = "give it with --password-file FILE or $MQTT_PASSWORD"
)

// argvPassword says whether the password came on the command line: -P, or
// -L with user:password@.
func argvPassword(c *cli.Context) bool {
	return c.IsSet("pw") || urlHasPassword(c.String("url"))
}

func password(c *cli.Context) (string, error) {
	if c.IsSet("pw") {
		return c.String("pw"), nil
	}
	if f := c.String("password-file"); f != "" {
		pw, err := readSecretFile(f, "password file")
		return string(pw), err
	}
	return os.Getenv("MQTT_PASSWORD"), nil
}

func p12Password(c *cli.Context) (string, error) {
	if f := c.String("p12-password-file"); f != "" {
		pw, err := readSecretFile(f, "p12 password file")
		return string(pw), err
	}
	return os.Getenv("MQTLS_P12_PASSWORD"), nil
}

// toolUsage is bad arguments to pub or sub: exit 1 and point at the help, as
// the Mosquitto tools do.
func toolUsage(c *cli.Context, err error) error {
	return withHint(cli.Exit(err.Error(), client.ExitFailure), fmt.Sprintf("use 'mqtls %s --help' to see usage", c.Command.Name))
}

// toolFail ends pub or sub with the Mosquitto tools' exit code for err; with
// --quiet nothing is printed.
func toolFail(c *cli.Context, err error) error {
	code := client.ExitCode(err)
	if c.Bool("quiet") {
		return cli.Exit("", code)
	}
	if h := loginHint(c, err); h != "" {
		return withHint(cli.Exit(err.Error(), code), h)
	}
	return cli.Exit(err.Error(), code)
}

// loginHint says which login to use when the broker refused a client that
// gave none; in the folder of the dev sandbox, its admin's.
func loginHint(c *cli.Context, err error) string {
	var ce *client.ConnackError
	if !errors.As(err, &ce) || (ce.Code != 5 && ce.Code != 135) {
		return ""
	}
	for _, n := range []string{"username", "cert", "p12", "cert-dir"} {
		if c.IsSet(n) {
			return ""
		}
	}
	if strings.Contains(c.String("url"), "@") {
		return ""
	}
	hint := "the broker wants a login: -u USER with --password-file FILE (or $MQTT_PASSWORD), or a client certificate (--cert/--key, --p12) on its TLS port"
	if _, err := os.Stat(filepath.Join("mqtls-dev", "admin.pass")); err == nil {
		hint += "; the dev sandbox's admin is -u admin --password-file mqtls-dev/admin.pass"
	}
	return hint
}

// onToolUsageError is the shared flag-error message (misuse.go) with the
// Mosquitto tools' exit code 1 instead of 2.
func onToolUsageError(c *cli.Context, err error, _ bool) error {
	if name, ok := strings.CutPrefix(err.Error(), "flag provided but not defined: -"); ok {
		name = strings.TrimLeft(name, "-")
		if why, ok := unsupportedToolFlags[name]; ok {
			return cli.Exit(fmt.Sprintf("%s: %s is a flag of the Mosquitto tools that mqtls does not support: %s", commandPath(c), dashed(name), why), client.ExitFailure)
		}
	}
	msg, hint, help := flagMisuse(c, err)
	if help {
		return showHelp(c)
	}
	return withHint(cli.Exit(msg, client.ExitFailure), hint)
}

// unsupportedToolFlags are the mosquitto_pub and mosquitto_sub flags that
// pub and sub refuse, each with what to do instead (README: the flag
// table).
var unsupportedToolFlags = map[string]string{
	"S":                     "DNS SRV lookups are not done: give the broker with -h HOST and -p PORT",
	"ciphers":               "Go chooses the cipher suites (ECDHE with AES-GCM or ChaCha20-Poly1305): leave it out",
	"keyform":               "OpenSSL engines are not supported: give the key as a PEM --key or a --p12 bundle",
	"tls-engine":            "OpenSSL engines are not supported: give the key as a PEM --key or a --p12 bundle",
	"tls-engine-kpass-sha1": "OpenSSL engines are not supported: give the key as a PEM --key or a --p12 bundle",
	"psk":                   "TLS-PSK is not supported: use a client certificate (--cert and --key, or --p12)",
	"psk-identity":          "TLS-PSK is not supported: use a client certificate (--cert and --key, or --p12)",
	"proxy":                 "SOCKS5 proxies are not supported: connect directly, or through an SSH tunnel (ssh -L)",
}
