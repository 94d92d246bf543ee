package dynsec

// The $CONTROL/dynamic-security/v1 API: a request {"commands":[...]} in, a
// response {"responses":[...]} out, one entry per command, with Mosquitto
// 2.0's command names, data shapes and error strings.

import (
	"context"
	"errors"
	"log/slog"
	"strings"
)

// Topics of the control API.
const (
	ControlTopic  = "$CONTROL/dynamic-security/v1"
	ResponseTopic = "$CONTROL/dynamic-security/v1/response"
)

// IsControlTopic reports whether t is under $CONTROL, the broker's control
// APIs, as Mosquitto tests it (a prefix match on "$CONTROL"): default access
// never grants such a topic, and listeners without the control API refuse it.
func IsControlTopic(t string) bool { return strings.HasPrefix(t, "$CONTROL") }

// maxRequest bounds a request payload (MQTT's own limit).
const maxRequest = 268435455

// Control runs one request published on [ControlTopic] and returns the
// response payload for [ResponseTopic]. The broker must have checked the
// publisher's publishClientSend access to the topic first. Changes are saved
// to the file at once; a save error is logged (see [Store.SetLogger]) and
// the change stays in memory, as in Mosquitto. Sessions to disconnect are
// reported through [Store.OnKick] before Control returns.
func (s *Store) Control(payload []byte) []byte {
	resp, err := s.Exec(payload)
	if err != nil {
		if l := s.logger(); l != nil {
			l.Error("dynsec: save failed", "err", err)
		}
	}
	return resp
}

// Exec is Control that also returns the save error, for tools that edit a
// file and must say when the change did not reach it.
func (s *Store) Exec(payload []byte) ([]byte, error) {
	responses, err := s.exec(payload)
	return printJSON(obj{{"responses", responses}}, false), err
}

func (s *Store) exec(payload []byte) ([]any, error) {
	if len(payload) > maxRequest {
		return []any{reply("Unknown command", "Payload not valid JSON", nil)}, nil
	}
	v, err := parseJSON(payload)
	if err != nil {
		return []any{reply("Unknown command", "Payload not valid JSON", nil)}, nil
	}
	tree, _ := v.(obj)
	cmds, ok := tree.Array("commands")
	if !ok {
		return []any{reply("Unknown command", "Invalid/missing commands", nil)}, nil
	}
	var out []any
	var kicks []string
	dirty := false
	s.mu.Lock()
	for _, c := range cmds {
		co, ok := c.(obj)
		if !ok {
			out = append(out, reply("Unknown command", "Command not an object", nil))
			continue
		}
		name, ok := co.Str("command")
		if !ok {
			out = append(out, reply("Unknown command", "Missing command", nil))
			continue
		}
		var corr *string
		if co.Has("correlationData") {
			cd, ok := co.Str("correlationData")
			if !ok {
				out = append(out, reply(name, "Invalid correlationData data type.", nil))
				break
			}
			corr = &cd
		}
		h, canonical := lookupCommand(name)
		if h == nil {
			out = append(out, reply(name, "Unknown command", corr))
			continue
		}
		r := h(s, co)
		if r.changed {
			dirty = true
			if canonical != "createClient" {
				s.m.dropEncoded()
			}
		}
		kicks = append(kicks, r.kicks...)
		s.logCommand(canonical, co, r)
		out = append(out, r.entries(canonical, corr)...)
	}
	var gen uint64
	if dirty {
		s.changed()
		gen = s.markLocked()
	}
	s.mu.Unlock()
	if gen > 0 {
		err = s.saveUpTo(gen)
	}
	s.runKicks(kicks)
	if out == nil {
		out = []any{}
	}
	return out, err
}

// result is what one command handler produced.
type result struct {
	err     string // Mosquitto's error text, "" on success
	data    obj    // reply data, nil for none
	changed bool   // the model changed: save and drop cached decisions
	kicks   []string
	// alsoData makes the reply an error entry followed by a data entry
	// (getGroup of an unknown group, as Mosquitto 2.0 answers).
	alsoData bool
}

func fail(msg string) result { return result{err: msg} }

func (r result) entries(command string, corr *string) []any {
	if r.err != "" && r.alsoData {
		return []any{reply(command, r.err, corr), dataReply(command, obj{}, corr)}
	}
	if r.err != "" {
		return []any{reply(command, r.err, corr)}
	}
	if r.data != nil {
		return []any{dataReply(command, r.data, corr)}
	}
	return []any{reply(command, "", corr)}
}

func reply(command, errMsg string, corr *string) obj {
	o := obj{{"command", command}}
	if errMsg != "" {
		o = append(o, member{"error", errMsg})
	}
	if corr != nil {
		o = append(o, member{"correlationData", *corr})
	}
	return o
}

func dataReply(command string, data obj, corr *string) obj {
	o := obj{{"command", command}, {"data", data}}
	if corr != nil {
		o = append(o, member{"correlationData", *corr})
	}
	return o
}

type handler func(s *Store, cmd obj) result

// commands lists every command of Mosquitto 2.0's plugin, in its order.
var commands = []struct {
	name string
	h    handler
}{
	{"setDefaultACLAccess", cmdSetDefaultACLAccess},
	{"getDefaultACLAccess", cmdGetDefaultACLAccess},
	{"createClient", cmdCreateClient},
	{"deleteClient", cmdDeleteClient},
	{"getClient", cmdGetClient},
	{"listClients", cmdListClients},
	{"modifyClient", cmdModifyClient},
	{"setClientPassword", cmdSetClientPassword},
	{"setClientId", cmdSetClientID},
	{"addClientRole", cmdAddClientRole},
	{"removeClientRole", cmdRemoveClientRole},
	{"enableClient", cmdEnableClient},
	{"disableClient", cmdDisableClient},
	{"addGroupClient", cmdAddGroupClient},
	{"createGroup", cmdCreateGroup},
	{"deleteGroup", cmdDeleteGroup},
	{"getGroup", cmdGetGroup},
	{"listGroups", cmdListGroups},
	{"modifyGroup", cmdModifyGroup},
	{"removeGroupClient", cmdRemoveGroupClient},
	{"addGroupRole", cmdAddGroupRole},
	{"removeGroupRole", cmdRemoveGroupRole},
	{"setAnonymousGroup", cmdSetAnonymousGroup},
	{"getAnonymousGroup", cmdGetAnonymousGroup},
	{"createRole", cmdCreateRole},
	{"getRole", cmdGetRole},
	{"listRoles", cmdListRoles},
	{"modifyRole", cmdModifyRole},
	{"deleteRole", cmdDeleteRole},
	{"addRoleACL", cmdAddRoleACL},
	{"removeRoleACL", cmdRemoveRoleACL},
}

// lookupCommand finds a command by name ignoring ASCII case and returns it
// with its canonical name.
func lookupCommand(name string) (handler, string) {
	for _, c := range commands {
		if asciiEqualFold(c.name, name) {
			return c.h, c.name
		}
	}
	return nil, ""
}

// logCommand writes one line per command, naming the parameters but never a
// password.
func (s *Store) logCommand(name string, cmd obj, r result) {
	l := s.logger()
	if l == nil {
		return
	}
	attrs := []any{"command", name}
	for _, k := range []string{"username", "groupname", "rolename", "acltype", "topic", "clientid"} {
		if v, ok := cmd.Str(k); ok {
			attrs = append(attrs, k, v)
		}
	}
	if r.err != "" {
		attrs = append(attrs, "error", r.err)
	}
	l.Log(context.Background(), slog.LevelInfo, "dynsec", attrs...)
}

// CommandError is an error answer from the control API, with Mosquitto's
// text ("Client not found", ...).
type CommandError struct {
	Command string
	Message string
}

func (e *CommandError) Error() string { return e.Command + ": " + e.Message }

// ErrNotFound is matched by errors.Is for every "... not found" answer.
var ErrNotFound = errors.New("not found")

func (e *CommandError) Is(target error) bool {
	return target == ErrNotFound && strings.HasSuffix(e.Message, "not found")
}
