package device

// Where the dynamic security clients of devices live: a dynamic-security.json
// file edited while no broker serves it, or a running broker reached through
// its $CONTROL/dynamic-security/v1 API. Both answer the same requests.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"mqtls/client"
	"mqtls/dynsec"
	"mqtls/dynsec/ctl"
)

// Target holds the dynamic security clients of devices: a file
// ([OpenFile], [ReadFile]) or a running broker ([Dial]).
type Target = ctl.Target

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

// OpenFile opens a dynamic-security.json for editing. Changes stay in
// memory until Flush or Close, so an import of thousands of devices writes
// the file a few times instead of once per device; the file's lock is held
// from open to Close, so a broker cannot start serving the file meanwhile.
// It fails with dynsec.ErrLocked when a running broker serves the file.
func OpenFile(path string) (Target, error) {
	t, err := ctl.OpenFile(path, ctl.FileOptions{Batch: true})
	switch {
	case errors.Is(err, dynsec.ErrLocked):
		return nil, fmt.Errorf("%s: %w: add devices through the broker with -h/-p/-u instead of -f", path, dynsec.ErrLocked)
	case errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("%s does not exist: create it with mqtls dynsec init, or mosquitto_ctrl dynsec init", path)
	case err != nil:
		return nil, err
	}
	return t, nil
}

// ReadFile reads a dynamic-security.json for looking only (list, bundle):
// it takes no lock, so it works while a broker serves the file, and nothing
// is ever written back.
func ReadFile(path string) (Target, error) {
	t, err := ctl.OpenFile(path, ctl.FileOptions{ReadOnly: true})
	if err != nil {
		return nil, fmt.Errorf("read dynamic security file: %w", err)
	}
	return t, nil
}

// Dial connects to a running broker with o (an admin whose roles allow
// $CONTROL/dynamic-security/#) and subscribes to the control API's answers.
func Dial(ctx context.Context, o client.Options) (Target, error) {
	conn, err := ctl.Dial(ctx, o)
	if err != nil {
		return nil, fmt.Errorf("connect to the broker's control API: %w", err)
	}
	return conn, nil
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
	return callWith(t, name, args, ctl.Options{})
}

func callWith(t Target, name string, args []string, o ctl.Options) (json.RawMessage, error) {
	req, err := ctl.BuildRequest(name, args, o)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	payload, err := t.Exec(context.Background(), req)
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

// groupRoles returns the roles of a group (none when it does not exist).
func groupRoles(t Target, name string) ([]string, error) {
	data, err := call(t, "getGroup", name)
	if errors.Is(err, dynsec.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var d struct {
		Group struct {
			Roles []struct {
				Name string `json:"rolename"`
			} `json:"roles"`
		} `json:"group"`
	}
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("getGroup %s: %w", name, err)
	}
	var roles []string
	for _, r := range d.Group.Roles {
		roles = append(roles, r.Name)
	}
	return roles, nil
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
	payload, err := t.Exec(context.Background(), []byte(`{"commands":[{"command":"listClients","verbose":true}]}`))
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
