package device

// Where the dynamic security clients of devices live: a dynamic-security.json
// file edited while no broker serves it, or a running broker reached through
// its $CONTROL/dynamic-security/v1 API. Both answer the same requests.

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"

	"mqtls/dynsec"
	"mqtls/internal/atomicfile"
)

// Target holds the dynamic security clients of devices.
type Target interface {
	// Exec runs one $CONTROL request (the payload mosquitto_ctrl would
	// publish) and returns the response payload.
	Exec(payload []byte) ([]byte, error)
	// Flush makes the changes so far durable (a no-op for a live broker,
	// which saves every change itself).
	Flush() error
	// Close flushes and releases the target.
	Close() error
	// Live reports whether the target is a running broker.
	Live() bool
}

// ClientInfo is what a target knows of a device's dynamic security client.
type ClientInfo struct {
	Username string
	Disabled bool
	Roles    []string
	Groups   []string
}

// RoleACL is one ACL of a role.
type RoleACL struct {
	Type  string `json:"acltype"`
	Topic string `json:"topic"`
	Allow bool   `json:"allow"`
}

// fileTarget edits a dynamic-security.json in memory and writes it back on
// Flush, so an import of thousands of devices writes the file a few times
// instead of once per device. It holds the file's lock from open to Close,
// so a broker cannot start serving the file meanwhile, and refuses a file a
// running broker holds.
type fileTarget struct {
	mu    sync.Mutex
	path  string
	lock  *dynsec.FileLock
	store *dynsec.Store
	dirty bool
	// readOnly targets never write the file.
	readOnly bool
}

// OpenFile opens a dynamic-security.json for editing. It fails with
// dynsec.ErrLocked when a running broker serves the file.
func OpenFile(path string) (Target, error) {
	lock, err := dynsec.Lock(path)
	if err != nil {
		if errors.Is(err, dynsec.ErrLocked) {
			return nil, fmt.Errorf("%s: %w: add devices through the broker with -h/-p/-u instead of -f", path, err)
		}
		return nil, err
	}
	data, err := dynsec.ReadFile(path)
	if err != nil {
		lock.Unlock()
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%s does not exist: create it with mqtls dynsec init, or mosquitto_ctrl dynsec init", path)
		}
		return nil, fmt.Errorf("read dynamic security file: %w", err)
	}
	s, err := dynsec.Parse(data)
	if err != nil {
		lock.Unlock()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fileTarget{path: path, lock: lock, store: s}, nil
}

// ReadFile reads a dynamic-security.json for looking only (list, bundle):
// it takes no lock, so it works while a broker serves the file, and nothing
// is ever written back.
func ReadFile(path string) (Target, error) {
	data, err := dynsec.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read dynamic security file: %w", err)
	}
	s, err := dynsec.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &fileTarget{path: path, store: s, readOnly: true}, nil
}

func (f *fileTarget) Live() bool { return false }

func (f *fileTarget) Exec(payload []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out, err := f.store.Exec(payload)
	f.dirty = true
	return out, err
}

func (f *fileTarget) Flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.dirty || f.readOnly {
		return nil
	}
	// Through FILE.new, as the broker and mqtls dynsec save it (and
	// Mosquitto): a save killed half way leaves that name, which the
	// next save replaces, never a stray temporary file.
	if err := atomicfile.WriteFileVia(f.path, f.path+".new", f.store.Encode(), 0o600); err != nil {
		return fmt.Errorf("save %s: %w", f.path, err)
	}
	f.dirty = false
	return nil
}

func (f *fileTarget) Close() error {
	err := f.Flush()
	if f.lock != nil {
		if uerr := f.lock.Unlock(); err == nil {
			err = uerr
		}
	}
	return err
}

// response is one answer of the control API.
type response struct {
	Command string          `json:"command"`
	Error   string          `json:"error"`
	Data    json.RawMessage `json:"data"`
}

// call runs one command on t and returns its data, or the API's error as a
// *dynsec.CommandError.
func call(t Target, name string, args ...string) (json.RawMessage, error) {
	return callWith(t, name, args, dynsec.CtrlOptions{})
}

func callWith(t Target, name string, args []string, o dynsec.CtrlOptions) (json.RawMessage, error) {
	req, err := dynsec.BuildRequest(name, args, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	payload, err := t.Exec(req)
	if err != nil && payload == nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var env struct {
		Responses []response `json:"responses"`
	}
	if jerr := json.Unmarshal(payload, &env); jerr != nil || len(env.Responses) == 0 {
		return nil, fmt.Errorf("%s: unreadable answer from the dynamic security API", name)
	}
	r := env.Responses[0]
	if r.Error != "" {
		return nil, &dynsec.CommandError{Command: name, Message: r.Error}
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return r.Data, nil
}

// getClient returns a client, or ok false when it does not exist.
func getClient(t Target, username string) (ClientInfo, bool, error) {
	data, err := call(t, "getClient", username)
	if errors.Is(err, dynsec.ErrNotFound) {
		return ClientInfo{}, false, nil
	}
	if err != nil {
		return ClientInfo{}, false, err
	}
	var d struct {
		Client struct {
			Username string `json:"username"`
			Disabled bool   `json:"disabled"`
			Roles    []struct {
				Name string `json:"rolename"`
			} `json:"roles"`
			Groups []struct {
				Name string `json:"groupname"`
			} `json:"groups"`
		} `json:"client"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return ClientInfo{}, false, fmt.Errorf("getClient %s: %w", username, err)
	}
	ci := ClientInfo{Username: d.Client.Username, Disabled: d.Client.Disabled}
	for _, r := range d.Client.Roles {
		ci.Roles = append(ci.Roles, r.Name)
	}
	for _, g := range d.Client.Groups {
		ci.Groups = append(ci.Groups, g.Name)
	}
	return ci, true, nil
}

// getRole returns a role's ACLs, or ok false when it does not exist.
func getRole(t Target, name string) ([]RoleACL, bool, error) {
	data, err := call(t, "getRole", name)
	if errors.Is(err, dynsec.ErrNotFound) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	var d struct {
		Role struct {
			ACLs []RoleACL `json:"acls"`
		} `json:"role"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, false, fmt.Errorf("getRole %s: %w", name, err)
	}
	return d.Role.ACLs, true, nil
}

// groupExists reports whether a group exists.
func groupExists(t Target, name string) (bool, error) {
	_, err := call(t, "getGroup", name)
	if errors.Is(err, dynsec.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// listClients returns every client with its state and roles (listClients
// with "verbose", which mosquitto_ctrl does not send but the API answers).
func listClients(t Target) ([]ClientInfo, error) {
	payload, err := t.Exec([]byte(`{"commands":[{"command":"listClients","verbose":true}]}`))
	if err != nil && payload == nil {
		return nil, fmt.Errorf("listClients: %w", err)
	}
	var env struct {
		Responses []struct {
			Error string `json:"error"`
			Data  struct {
				Clients []struct {
					Username string `json:"username"`
					Disabled bool   `json:"disabled"`
					Roles    []struct {
						Name string `json:"rolename"`
					} `json:"roles"`
					Groups []struct {
						Name string `json:"groupname"`
					} `json:"groups"`
				} `json:"clients"`
			} `json:"data"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(payload, &env); err != nil || len(env.Responses) == 0 {
		return nil, fmt.Errorf("listClients: unreadable answer from the dynamic security API")
	}
	if e := env.Responses[0].Error; e != "" {
		return nil, &dynsec.CommandError{Command: "listClients", Message: e}
	}
	var out []ClientInfo
	for _, c := range env.Responses[0].Data.Clients {
		ci := ClientInfo{Username: c.Username, Disabled: c.Disabled}
		for _, r := range c.Roles {
			ci.Roles = append(ci.Roles, r.Name)
		}
		for _, g := range c.Groups {
			ci.Groups = append(ci.Groups, g.Name)
		}
		out = append(out, ci)
	}
	return out, nil
}
