// Package sandbox makes the dev sandbox that `mqtls broker` runs without -c:
// a CA without password (a throwaway, and said so), a server certificate
// for this machine, a dynamic security file with an admin and a demo device
// and its p12, and the broker configuration and "try it" commands that go
// with them.
package sandbox

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"mqtls/ca"
	"mqtls/certs"
	"mqtls/conf"
	"mqtls/dynsec"
	"mqtls/internal/fileio"
	"mqtls/internal/shellword"
)

// Sandbox names in the dev folder.
const (
	Device = "demo-device"
	admin  = "admin"
	role   = "device"
)

// Options say where the dev sandbox lives and listens.
type Options struct {
	// Dir is the sandbox folder (mqtls-dev).
	Dir string
	// Port (1883, dynsec passwords), TLSPort (8883, mTLS) and Inspector
	// (127.0.0.1:8088, "" for none), all on the loopback interface.
	Port, TLSPort int
	Inspector     string
	// Program is how the "try it" block calls mqtls: "mqtls" when it is on
	// the PATH, else the path it was started by (./bin/mqtls after make run).
	Program string
}

// Sandbox is a ready dev sandbox: the config to start the broker with and the
// commands to try it.
type Sandbox struct {
	Config *conf.Config
	// Created is true when this run made the folder's contents.
	Created bool
	// TryIt is the "try it" block: commands that work when pasted in the
	// folder the broker was started from.
	TryIt string
}

// Make makes (or reuses) the dev sandbox: a CA without password (a
// throwaway, and said so), a server certificate for localhost, 127.0.0.1, ::1
// and this host's name, a dynamic security file with an admin (its password
// in admin.pass) and a demo device whose certificate and p12 it issues.
func Make(o Options) (*Sandbox, error) {
	sb := &Sandbox{}
	if err := fileio.MkdirPrivate(o.Dir); err != nil {
		return nil, err
	}
	pki := filepath.Join(o.Dir, "pki")
	if !ca.Exists(pki) {
		if err := ca.Init(pki, ca.InitOptions{Name: "mqtls dev sandbox"}); err != nil {
			return nil, fmt.Errorf("dev sandbox: %w", err)
		}
		sb.Created = true
	}
	c, err := ca.Open(pki, nil)
	if err != nil {
		return nil, fmt.Errorf("dev sandbox: %w", err)
	}
	if !exists(c.IssuedPath("server", ".crt")) {
		hosts := []string{"localhost"}
		if h, err := os.Hostname(); err == nil && h != "" && h != "localhost" {
			if _, err := certs.ValidateHost(h); err == nil {
				hosts = append(hosts, h)
			}
		}
		if _, err := c.IssueServer(ca.ServerOptions{Name: "server", Hosts: hosts, IPs: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}}); err != nil {
			return nil, fmt.Errorf("dev sandbox: server certificate: %w", err)
		}
	}
	if !exists(c.IssuedPath(Device, ".p12")) {
		iss, err := c.IssueClient(Device, ca.ClientOptions{})
		if err != nil {
			return nil, fmt.Errorf("dev sandbox: device certificate: %w", err)
		}
		if _, err := c.WriteP12(iss, ca.P12Options{}); err != nil {
			return nil, fmt.Errorf("dev sandbox: device p12: %w", err)
		}
	}
	dsPath := filepath.Join(o.Dir, "dynamic-security.json")
	if !exists(dsPath) {
		if err := writeDynsec(dsPath, filepath.Join(o.Dir, "admin.pass")); err != nil {
			return nil, err
		}
	}
	sb.Config = config(o, c, dsPath)
	sb.TryIt = tryIt(o, c)
	return sb, nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return !errors.Is(err, fs.ErrNotExist)
}

// writeDynsec writes the dynsec file: the admin of `dynsec init`, and a
// role that confines each device to devices/<its name>/#.
func writeDynsec(path, passPath string) error {
	raw := make([]byte, 18)
	if _, err := rand.Read(raw); err != nil {
		return err
	}
	pw := base64.RawURLEncoding.EncodeToString(raw)
	if err := fileio.WriteFile(passPath, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("dev sandbox: %w", err)
	}
	if err := dynsec.Init(path, admin, []byte(pw)); err != nil {
		return fmt.Errorf("dev sandbox: %w", err)
	}
	st, err := dynsec.Load(path)
	if err != nil {
		return fmt.Errorf("dev sandbox: %w", err)
	}
	steps := []func() error{
		func() error { return st.CreateRole(role) },
		func() error { return st.AddRoleACL(role, "publishClientSend", "devices/%u/#", true, 0) },
		func() error { return st.AddRoleACL(role, "publishClientReceive", "devices/%u/#", true, 0) },
		func() error { return st.AddRoleACL(role, "subscribePattern", "devices/%u/#", true, 0) },
		func() error {
			return st.CreateClient(dynsec.NewClient{Username: Device, TextName: "demo device of the dev sandbox",
				Roles: []dynsec.RoleRef{{Role: role, Priority: -1}}})
		},
	}
	for _, f := range steps {
		if err := f(); err != nil {
			return fmt.Errorf("dev sandbox: dynamic security: %w", err)
		}
	}
	return nil
}

func config(o Options, c *ca.CA, dsPath string) *conf.Config {
	cfg := conf.New()
	cfg.File = "(dev sandbox)"
	no := false
	cfg.Security.AllowAnonymous = &no
	cfg.Security.Plugins = []conf.Plugin{{Path: "mosquitto_dynamic_security.so", Options: map[string]string{"config_file": dsPath}}}
	cfg.Listeners = []*conf.Listener{
		{Port: o.Port, Bind: "127.0.0.1", Protocol: "mqtt", MaxConnections: -1},
		{Port: o.TLSPort, Bind: "127.0.0.1", Protocol: "mqtt", MaxConnections: -1,
			CAFile: c.ChainPath(), CertFile: c.IssuedPath("server", ".crt"), KeyFile: c.IssuedPath("server", ".key"),
			CRLFile: c.CRLPath(), RequireCertificate: true, UseIdentityAsUsername: true},
	}
	cfg.Inspector = o.Inspector
	// the sandbox shows everything the broker offers, /metrics included
	cfg.Metrics = o.Inspector != ""
	cfg.LogTypes = []string{"error", "warning", "notice", "information", "subscribe"}
	cfg.Persistence = true
	cfg.PersistenceLocation = filepath.Join(o.Dir, "data")
	return cfg
}

func tryIt(o Options, c *ca.CA) string {
	// Every path is quoted: the folder or the program's path may hold a
	// space, and the block is meant to be pasted as printed.
	q := shellword.Quote
	dev := func(ext string) string { return q(c.IssuedPath(Device, ext)) }
	tlsFlags := fmt.Sprintf("-h 127.0.0.1 -p %d --cafile %s", o.TLSPort, q(c.ChainPath()))
	topic := "devices/" + Device
	prog := o.Program
	if prog == "" {
		prog = "mqtls"
	}
	prog = q(prog)
	var b strings.Builder
	fmt.Fprintf(&b, "try it (dev sandbox in %s; its CA has no password: for development only):\n\n", o.Dir)
	fmt.Fprintf(&b, "  # 1. subscribe as the demo device over mutual TLS, with the p12 a phone would hold\n")
	fmt.Fprintf(&b, "  %s sub %s --p12 %s --p12-password-file %s -t %s -v\n\n", prog, tlsFlags, dev(".p12"), dev(".p12.pass"), q(topic+"/#"))
	fmt.Fprintf(&b, "  # 2. publish as the same device (another terminal), with Mosquitto's client or ours\n")
	fmt.Fprintf(&b, "  mosquitto_pub %s --cert %s --key %s -t %s -m 21.5\n", tlsFlags, dev(".crt"), dev(".key"), q(topic+"/temp"))
	fmt.Fprintf(&b, "  %s pub %s --cert %s --key %s -t %s -m 21.5\n\n", prog, tlsFlags, dev(".crt"), dev(".key"), q(topic+"/temp"))
	fmt.Fprintf(&b, "  # 3. the dynsec admin logs in with a password on port %d (it may read everything)\n", o.Port)
	fmt.Fprintf(&b, "  %s sub -h 127.0.0.1 -p %d -u %s --password-file %s -t '#' -v\n", prog, o.Port, admin, q(filepath.Join(o.Dir, "admin.pass")))
	if o.Inspector != "" {
		fmt.Fprintf(&b, "\n  # 4. watch every topic live in a browser (Prometheus metrics at /metrics)\n  http://%s/\n", o.Inspector)
	}
	return b.String()
}
