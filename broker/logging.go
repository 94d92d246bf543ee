package broker

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"slices"
	"strings"
	"syscall"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/packets"

	"mqtls/conf"
)

// NewLogger builds the broker's logger from log_type and log_dest: plain
// Mosquitto-like lines on standard error unless log_dest says otherwise. The closer
// closes a log file. Messages about clients read like Mosquitto's.
func NewLogger(cfg *conf.Config, stdout, stderr io.Writer) (*slog.Logger, io.Closer, error) {
	level, off := logLevel(cfg.LogTypes)
	var ws []io.Writer
	var closer io.Closer = nopCloser{}
	dests := cfg.LogDests
	if len(dests) == 0 {
		dests = []conf.LogDest{{Kind: "stderr"}}
	}
	for _, d := range dests {
		switch d.Kind {
		case "stdout":
			ws = append(ws, stdout)
		case "stderr":
			ws = append(ws, stderr)
		case "file":
			f, err := openLogFile(d.Path)
			if err != nil {
				return nil, nil, err
			}
			ws = append(ws, f)
			closer = f
		case "none":
			off = true
		}
	}
	if off || len(ws) == 0 {
		return slog.New(slog.DiscardHandler), closer, nil
	}
	h := newLineHandler(io.MultiWriter(ws...), level)
	switch {
	case !cfg.LogTimestamp:
		h.stamp = nil
	case cfg.LogTimestampFormat != "":
		f, err := strftimeLayout(cfg.LogTimestampFormat)
		if err != nil {
			closer.Close()
			return nil, nil, fmt.Errorf("log_timestamp_format: %w", err)
		}
		h.stamp = func(t time.Time) string { return t.Format(f) }
	}
	return slog.New(h), closer, nil
}

// openLogFile opens a log file for appending. A new file is created 0600
// (the log names clients and topics); an existing one keeps its mode, as
// it may be shared with a log reader on purpose, but it must belong to the
// user the broker runs as: a misconfigured path must not append to, or
// change, someone else's file (/etc/passwd). A device or a pipe
// (log_dest file /dev/console) is taken as it is. A symbolic link at path
// is refused, so that whoever can write its folder cannot point the
// broker's writes at another file.
func openLogFile(path string) (*os.File, error) {
	const flags = os.O_WRONLY | os.O_APPEND | syscall.O_NOFOLLOW
	f, err := os.OpenFile(path, flags|os.O_CREATE|os.O_EXCL, 0o600)
	created := err == nil
	if errors.Is(err, fs.ErrExist) {
		f, err = os.OpenFile(path, flags, 0)
	}
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("log_dest file %s is a symbolic link: give the path of the file itself", path)
	}
	if err != nil {
		return nil, fmt.Errorf("log_dest file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log_dest file: %w", err)
	}
	switch {
	case created:
		// The umask can only narrow 0600; say it explicitly all the same.
		err = f.Chmod(0o600)
	case fi.Mode().IsRegular():
		if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) != os.Geteuid() {
			f.Close()
			return nil, fmt.Errorf("log_dest file %s belongs to uid %d, not to this user (uid %d): give a file of ours or a new path", path, st.Uid, os.Geteuid())
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("log_dest file: %w", err)
	}
	return f, nil
}

type nopCloser struct{}

func (nopCloser) Close() error { return nil }

// logLevel maps Mosquitto's log types onto a slog level; off is true for
// "none" alone.
func logLevel(types []string) (level slog.Level, off bool) {
	if len(types) == 0 {
		return slog.LevelInfo, false
	}
	has := func(t ...string) bool {
		for _, x := range t {
			if slices.Contains(types, x) {
				return true
			}
		}
		return false
	}
	switch {
	case has("all", "debug"):
		return slog.LevelDebug, false
	case has("information", "notice", "subscribe", "unsubscribe", "websockets"):
		return slog.LevelInfo, false
	case has("warning"):
		return slog.LevelWarn, false
	case has("error"):
		return slog.LevelError, false
	}
	return slog.LevelError, true
}

// logsSubscriptions reports whether log_type asks for subscribe lines.
func (b *Broker) logsSubscriptions() bool {
	return slices.Contains(b.cfg.LogTypes, "subscribe") || slices.Contains(b.cfg.LogTypes, "all")
}

// mochiLogger passes mochi's own messages on at warning level and above,
// unless debug logging is on: its information messages are about itself.
func mochiLogger(log *slog.Logger) *slog.Logger {
	if log.Enabled(context.Background(), slog.LevelDebug) {
		return log.With("component", "mochi")
	}
	return slog.New(minLevel{log.Handler(), slog.LevelWarn}).With("component", "mochi")
}

type minLevel struct {
	slog.Handler
	min slog.Level
}

func (m minLevel) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= m.min && m.Handler.Enabled(ctx, l)
}

func (m minLevel) WithAttrs(as []slog.Attr) slog.Handler {
	return minLevel{m.Handler.WithAttrs(as), m.min}
}

func (m minLevel) WithGroup(g string) slog.Handler { return minLevel{m.Handler.WithGroup(g), m.min} }

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// logConnect writes Mosquitto's connection line:
// "New client connected from 127.0.0.1:51234 as DSN000001 (p5, c1, k60, u'DSN000001')."
func (b *Broker) logConnect(cl *mqtt.Client, pk packets.Packet) {
	if !b.cfg.ConnectionMessages {
		return
	}
	clean := pk.Connect.Clean
	line := fmt.Sprintf("New client connected from %s as %s (p%d, c%d, k%d", cl.Net.Remote, cl.ID,
		protoNumber(cl.Properties.ProtocolVersion), boolInt(clean), cl.State.Keepalive)
	if len(cl.Properties.Username) > 0 {
		line += fmt.Sprintf(", u'%s'", cl.Properties.Username)
	}
	b.log.Info(line + ").")
}

// protoNumber is Mosquitto's p value: 2 for 3.1.1 (its protocol level 4),
// 1 for 3.1, 5 for 5.
func protoNumber(v byte) int {
	switch v {
	case 3:
		return 1
	case 4:
		return 2
	}
	return int(v)
}

func (b *Broker) logDisconnect(cl *mqtt.Client, err error) {
	if cl.Net.Conn == nil || cl.Net.Inline {
		return // a session restored from the store
	}
	if !b.cfg.ConnectionMessages {
		return
	}
	switch {
	case cl.IsTakenOver():
		b.log.Info(fmt.Sprintf("Client %s already connected, closing old connection.", cl.ID))
	case err == nil || errors.Is(err, packets.CodeDisconnect):
		b.log.Info(fmt.Sprintf("Client %s disconnected.", cl.ID))
	default:
		reason := err.Error()
		var code packets.Code
		if errors.As(err, &code) {
			reason = code.Reason
			// The broker, not the client, ended these: Mosquitto's words,
			// and mochi's detail (what was malformed).
			switch code.Code {
			case packets.ErrMalformedPacket.Code:
				b.log.Info(fmt.Sprintf("Client %s disconnected due to malformed packet (%s).", cl.ID, strings.TrimSuffix(reason, ".")))
				return
			case packets.ErrProtocolViolation.Code:
				b.log.Info(fmt.Sprintf("Client %s disconnected due to protocol error (%s).", cl.ID, strings.TrimSuffix(reason, ".")))
				return
			}
		}
		b.log.Info(fmt.Sprintf("Client %s closed its connection: %s.", cl.ID, strings.TrimSuffix(reason, ".")))
	}
}

func (b *Broker) logSubscribe(cl *mqtt.Client, pk packets.Packet) {
	if !b.logsSubscriptions() {
		return
	}
	for _, f := range pk.Filters {
		name := f.Filter
		if orig, refused := refusedFilter(name); refused {
			name = orig
		}
		b.log.Info(fmt.Sprintf("%s %d %s", cl.ID, f.Qos, name))
	}
}
