package conf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"strings"
)

// maxLine bounds one configuration line; a longer one is an error.
const maxLine = 64 << 10

// Error is a problem at one line of a configuration file.
type Error struct {
	File   string
	Line   int
	Option string
	Err    error
}

func (e *Error) Error() string {
	loc := fmt.Sprintf("%s:%d", e.File, e.Line)
	if e.Option == "" {
		return fmt.Sprintf("%s: %v", loc, e.Err)
	}
	return fmt.Sprintf("%s: %s: %v", loc, e.Option, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// ErrUnknown and ErrUnsupported are wrapped by the errors for options
// that are not Mosquitto options at all, and for Mosquitto options that
// mqtls does not implement.
var (
	ErrUnknown     = errors.New("unknown option")
	ErrUnsupported = errors.New("mosquitto option not supported by mqtls")
)

type parser struct {
	cfg  *Config
	file string
	line int
	opt  string
	// cur is the listener that listener options apply to.
	cur *Listener
	// plugin is the plugin that plugin_opt_* lines apply to.
	plugin *Plugin
	// pluginLine is the line of the first plugin line, in any scope.
	pluginLine int
	// metricsLine is where metrics was set.
	metricsLine int
}

// Parse parses the configuration text b; file names it in errors.
func Parse(file string, b []byte) (*Config, error) {
	p := &parser{cfg: New(), file: file}
	p.cfg.File = file
	lines, err := splitLines(b)
	if err != nil {
		return nil, &Error{File: file, Line: len(lines) + 1, Err: err}
	}
	// per_listener_settings changes where security options go, wherever it
	// appears; read it first.
	for i, ln := range lines {
		name, value, ok := cut(ln)
		if ok && name == "per_listener_settings" {
			p.line, p.opt = i+1, name
			v, err := parseBool(value)
			if err != nil {
				return nil, p.wrap(err)
			}
			p.cfg.PerListenerSettings = v
		}
	}
	for i, ln := range lines {
		name, value, ok := cut(ln)
		if !ok {
			continue
		}
		p.line, p.opt = i+1, name
		if err := p.option(name, value); err != nil {
			return nil, p.wrap(err)
		}
	}
	if err := p.finish(); err != nil {
		return nil, err
	}
	return p.cfg, nil
}

func splitLines(b []byte) ([]string, error) {
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 4096), maxLine)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		return lines, fmt.Errorf("line longer than %d bytes", maxLine)
	}
	return lines, nil
}

// cut splits a line into option name and value; ok is false for blank and
// comment lines.
func cut(ln string) (name, value string, ok bool) {
	ln = strings.TrimSpace(strings.TrimSuffix(ln, "\r"))
	if ln == "" || ln[0] == '#' {
		return "", "", false
	}
	name, value, _ = strings.Cut(ln, " ")
	if i := strings.IndexByte(name, '\t'); i >= 0 {
		name, value = ln[:i], ln[i+1:]
	}
	return name, strings.TrimSpace(value), true
}

func (p *parser) wrap(err error) error {
	var ce *Error
	if errors.As(err, &ce) {
		return err
	}
	return &Error{File: p.file, Line: p.line, Option: p.opt, Err: err}
}

// listener returns the listener that a listener option applies to.
func (p *parser) listener() (*Listener, error) {
	if p.cur == nil {
		return nil, fmt.Errorf("must follow a listener line (add \"listener 8883\" above it)")
	}
	return p.cur, nil
}

// security returns where a security option goes.
func (p *parser) security() (*Security, error) {
	if !p.cfg.PerListenerSettings {
		return &p.cfg.Security, nil
	}
	l, err := p.listener()
	if err != nil {
		return nil, fmt.Errorf("with per_listener_settings true, security options must follow a listener line")
	}
	return &l.Security, nil
}

// finish checks what needs the whole file.
func (p *parser) finish() error {
	seen := map[string]int{}
	for _, l := range p.cfg.Listeners {
		p.line, p.opt = l.Line, "listener"
		key := fmt.Sprintf("%s:%d", l.Bind, l.Port)
		if prev, ok := seen[key]; ok {
			return p.wrap(fmt.Errorf("port %d is already used by the listener on line %d", l.Port, prev))
		}
		seen[key] = l.Line
		if err := checkListener(l); err != nil {
			return p.wrap(err)
		}
	}
	if p.cfg.Metrics && p.cfg.Inspector == "" {
		p.line, p.opt = p.metricsLine, "metrics"
		return p.wrap(fmt.Errorf("metrics are served by the inspector: add \"inspector 127.0.0.1:8088\""))
	}
	p.line, p.opt = 0, ""
	return nil
}

func checkListener(l *Listener) error {
	if !l.TLS() {
		tlsOnly := []struct {
			name string
			set  bool
		}{
			{"cafile", l.CAFile != ""},
			{"crlfile", l.CRLFile != ""},
			{"tls_version", l.TLSVersion != ""},
			{"require_certificate", l.RequireCertificate},
			{"use_identity_as_username", l.UseIdentityAsUsername},
			{"use_subject_as_username", l.UseSubjectAsUsername},
		}
		for _, o := range tlsOnly {
			if o.set {
				return fmt.Errorf("listener %d sets %s but is not a TLS listener: add certfile and keyfile", l.Port, o.name)
			}
		}
		return nil
	}
	switch {
	case l.CertFile == "":
		return fmt.Errorf("listener %d has keyfile but no certfile", l.Port)
	case l.KeyFile == "":
		return fmt.Errorf("listener %d has certfile but no keyfile", l.Port)
	case l.RequireCertificate && l.CAFile == "":
		return fmt.Errorf("listener %d has require_certificate true but no cafile to verify client certificates with", l.Port)
	case (l.UseIdentityAsUsername || l.UseSubjectAsUsername) && !l.RequireCertificate:
		return fmt.Errorf("listener %d uses the certificate as username but does not set require_certificate true", l.Port)
	case l.CRLFile != "" && l.CAFile == "":
		return fmt.Errorf("listener %d has crlfile but no cafile", l.Port)
	}
	return nil
}
