package conf

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
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
	errs []error
	// cur is the listener that listener options apply to.
	cur *Listener
	// plugin is the plugin that plugin_opt_* lines apply to.
	plugin *Plugin
	// pluginLine is the line of the first plugin line, in any scope.
	pluginLine int
	// metricsFile and metricsLine are where metrics was set.
	metricsFile string
	metricsLine int
	// bridge is the most recent connection block: bridge options apply to it.
	bridge *Bridge
}

// srcLine is one line of the main file or of a file of its include_dir.
type srcLine struct {
	file string
	n    int
	text string
}

// Parse parses the configuration text b; file names it in errors. Every
// problem of the file (and of the files of its include_dir) is reported:
// the error joins one [*Error] per problem, in file order.
func Parse(file string, b []byte) (*Config, error) {
	p := &parser{cfg: New(), file: file}
	p.cfg.File = file
	lines := p.read(file, b)
	// per_listener_settings changes where security options go, wherever it
	// appears; read it first.
	for _, ln := range lines {
		name, value, ok := cut(ln.text)
		if ok && name == "per_listener_settings" {
			p.at(ln, name)
			v, err := parseBool(value)
			if err != nil {
				p.fail(err)
				continue
			}
			p.cfg.PerListenerSettings = v
		}
	}
	for _, ln := range lines {
		name, value, ok := cut(ln.text)
		if !ok {
			continue
		}
		p.at(ln, name)
		if err := p.option(name, value); err != nil {
			p.fail(err)
		}
	}
	p.finish()
	if len(p.errs) > 0 {
		return nil, errors.Join(p.errs...)
	}
	return p.cfg, nil
}

func (p *parser) at(ln srcLine, name string) {
	p.file, p.line, p.opt = ln.file, ln.n, name
}

// fail records err at the current file, line and option.
func (p *parser) fail(err error) {
	p.errs = append(p.errs, p.wrap(err))
}

// warn records a warning at the current file, line and option.
func (p *parser) warn(format string, args ...any) {
	p.cfg.Warnings = append(p.cfg.Warnings, fmt.Sprintf("%s:%d: %s: %s", p.file, p.line, p.opt, fmt.Sprintf(format, args...)))
}

// read splits the main file into lines and puts the lines of the files of
// each include_dir in its place.
func (p *parser) read(file string, b []byte) []srcLine {
	text, err := splitLines(b)
	if err != nil {
		p.file, p.line, p.opt = file, len(text)+1, ""
		p.fail(err)
	}
	var out []srcLine
	for i, t := range text {
		ln := srcLine{file: file, n: i + 1, text: t}
		name, value, ok := cut(t)
		if !ok || name != "include_dir" {
			out = append(out, ln)
			continue
		}
		p.at(ln, name)
		files, err := includeFiles(value, file)
		if err != nil {
			p.fail(err)
			continue
		}
		for _, f := range files {
			out = append(out, p.readIncluded(f)...)
		}
	}
	return out
}

func (p *parser) readIncluded(path string) []srcLine {
	b, err := readBounded(path)
	if err != nil {
		p.fail(err)
		return nil
	}
	text, err := splitLines(b)
	if err != nil {
		p.file, p.line, p.opt = path, len(text)+1, ""
		p.fail(err)
	}
	out := make([]srcLine, 0, len(text))
	for i, t := range text {
		ln := srcLine{file: path, n: i + 1, text: t}
		if name, _, ok := cut(t); ok && name == "include_dir" {
			p.at(ln, name)
			p.fail(fmt.Errorf("include_dir is read from the main configuration file only: move it there"))
			continue
		}
		out = append(out, ln)
	}
	return out
}

// includeFiles lists the *.conf files of dir in Mosquitto's order.
func includeFiles(dir, mainFile string) ([]string, error) {
	if dir == "" {
		return nil, fmt.Errorf("needs a folder")
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("cannot read the folder: %w", err)
	}
	mainAbs, _ := filepath.Abs(mainFile)
	var files []string
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".conf") || e.IsDir() {
			continue
		}
		path := filepath.Join(dir, e.Name())
		if abs, _ := filepath.Abs(path); abs == mainAbs {
			return nil, fmt.Errorf("%s holds the main configuration file: include another folder", dir)
		}
		files = append(files, path)
	}
	slices.SortFunc(files, func(a, b string) int { return mosquittoCompare(filepath.Base(a), filepath.Base(b)) })
	return files, nil
}

// mosquittoCompare orders names as Mosquitto orders include_dir files:
// letter by letter ignoring case, and where only the case differs, upper
// case first ("A.conf" < "a.conf" < "B.conf").
func mosquittoCompare(a, b string) int {
	for i := 0; i < len(a) && i < len(b); i++ {
		ua, ub := upper(a[i]), upper(b[i])
		if ua != ub {
			return int(ua) - int(ub)
		}
		if a[i] != b[i] {
			return int(a[i]) - int(b[i])
		}
	}
	return len(a) - len(b)
}

func upper(c byte) byte {
	if 'a' <= c && c <= 'z' {
		return c - 'a' + 'A'
	}
	return c
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
		// As in Mosquitto, listener options before any listener line
		// configure the default listener (port 1883 on every address).
		p.cur = &Listener{File: p.file, Line: p.line, Port: 1883, Protocol: "mqtt", MaxConnections: -1, Default: true}
		p.cfg.Listeners = append(p.cfg.Listeners, p.cur)
	}
	return p.cur, nil
}

// security returns where a security option goes.
func (p *parser) security() (*Security, error) {
	if !p.cfg.PerListenerSettings {
		return &p.cfg.Security, nil
	}
	if p.cur == nil {
		return nil, fmt.Errorf("with per_listener_settings true, security options must follow a listener line")
	}
	return &p.cur.Security, nil
}

// finish checks what needs the whole file.
func (p *parser) finish() {
	seen := map[string]*Listener{}
	for _, l := range p.cfg.Listeners {
		p.file, p.line, p.opt = l.File, l.Line, "listener"
		if l.Default {
			p.opt = "port"
		}
		key := fmt.Sprintf("%s:%d", l.Bind, l.Port)
		if prev, ok := seen[key]; ok {
			p.fail(fmt.Errorf("port %d is already used by the listener at %s:%d", l.Port, prev.File, prev.Line))
		}
		seen[key] = l
		if err := checkListener(l); err != nil {
			p.fail(err)
		}
	}
	for _, l := range p.cfg.Listeners {
		if l.Enrollment && p.cfg.EnrollPKI == "" {
			p.file, p.line, p.opt = l.File, l.Line, "enrollment"
			p.fail(fmt.Errorf("listener %d has enrollment true, which needs enroll_pki DIR: the PKI folder that signs the devices' certificates", l.Port))
			break
		}
	}
	for _, b := range p.cfg.Bridges {
		p.file, p.line, p.opt = b.File, b.Line, "connection"
		if err := checkBridge(b); err != nil {
			p.fail(err)
		}
	}
	if p.cfg.Metrics && p.cfg.Inspector == "" {
		p.file, p.line, p.opt = p.metricsFile, p.metricsLine, "metrics"
		p.fail(fmt.Errorf("metrics are served by the inspector: add \"inspector 127.0.0.1:8088\""))
	}
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
			{"tls_key_exchange", l.TLSKeyExchange != ""},
			{"require_certificate", l.RequireCertificate},
			{"use_identity_as_username", l.UseIdentityAsUsername},
			{"use_subject_as_username", l.UseSubjectAsUsername},
			{"enrollment", l.Enrollment},
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
	case l.Enrollment && !(l.RequireCertificate && l.UseIdentityAsUsername):
		return fmt.Errorf("listener %d has enrollment true: it needs require_certificate true and use_identity_as_username true (devices log in by their certificate)", l.Port)
	}
	return nil
}
