package dynsec

// Go methods for tools that manage clients (mqtls device, mqtls dynsec):
// each one runs the same code as the matching control API command, so a
// file-backed store and a live broker behave alike.

import "fmt"

// RoleRef names a role held by a client or group. Priority -1 is the
// default (Mosquitto omits it).
type RoleRef struct {
	Role     string
	Priority int
}

// GroupRef names a group a client belongs to, with the group's priority in
// that client's list (-1 default).
type GroupRef struct {
	Group    string
	Priority int
}

// Client is a dynamic security client as getClient shows it.
type Client struct {
	Username        string
	ClientID        string // "" = any client id
	TextName        string
	TextDescription string
	Disabled        bool
	HasPassword     bool
	Roles           []RoleRef
	Groups          []GroupRef
}

// NewClient describes a client to create.
type NewClient struct {
	Username string
	// Password may be empty: the client then cannot log in with a password
	// (certificate logins do not need one).
	Password        []byte
	ClientID        string
	TextName        string
	TextDescription string
	Roles           []RoleRef
	Groups          []GroupRef
}

// run executes one command built in Go; a Mosquitto error answer becomes a
// *CommandError.
func (s *Store) run(cmd obj) (obj, error) {
	payload := printJSON(obj{{"commands", []any{cmd}}}, false)
	responses, err := s.exec(payload)
	if len(responses) > 0 {
		r := responses[0].(obj)
		if msg, ok := r.Str("error"); ok {
			name, _ := r.Str("command")
			return nil, &CommandError{Command: name, Message: msg}
		}
		if err != nil {
			return nil, err
		}
		data, _ := r.Obj("data")
		return data, nil
	}
	return nil, err
}

// CreateClient adds a client with its roles and groups.
func (s *Store) CreateClient(c NewClient) error {
	_, err := s.run(c.command())
	return err
}

// Request is the control API request that creates the client, for a live
// broker ([Remote]); the answer's error, if any, is read with [ResponseError].
func (c NewClient) Request() []byte { return request(c.command()) }

// ClientRequest is the control API request of a command that takes only a
// username: deleteClient, enableClient, disableClient or getClient.
func ClientRequest(command, username string) []byte {
	return request(obj{{"command", command}, {"username", username}})
}

func request(cmd obj) []byte { return printJSON(obj{{"commands", []any{cmd}}}, false) }

// ResponseError returns the first answer's error as a *CommandError, or nil.
func ResponseError(payload []byte) error {
	r, err := firstResponse(payload)
	if err != nil {
		return err
	}
	if msg, ok := r.Str("error"); ok {
		name, _ := r.Str("command")
		return &CommandError{Command: name, Message: msg}
	}
	return nil
}

// ParseClient reads the answer to getClient.
func ParseClient(payload []byte) (Client, error) {
	r, err := firstResponse(payload)
	if err != nil {
		return Client{}, err
	}
	if err := ResponseError(payload); err != nil {
		return Client{}, err
	}
	data, _ := r.Obj("data")
	co, ok := data.Obj("client")
	if !ok {
		return Client{}, fmt.Errorf("getClient answer has no client")
	}
	c := Client{
		Username:        strOf(co, "username"),
		ClientID:        strOf(co, "clientid"),
		TextName:        strOf(co, "textname"),
		TextDescription: strOf(co, "textdescription"),
		Disabled:        co.BoolOr("disabled", false),
	}
	roles, _ := co.Array("roles")
	for _, rv := range roles {
		ro, _ := rv.(obj)
		c.Roles = append(c.Roles, RoleRef{strOf(ro, "rolename"), ro.IntOr("priority", -1)})
	}
	groups, _ := co.Array("groups")
	for _, gv := range groups {
		gobj, _ := gv.(obj)
		c.Groups = append(c.Groups, GroupRef{strOf(gobj, "groupname"), gobj.IntOr("priority", -1)})
	}
	return c, nil
}

func strOf(o obj, key string) string {
	v, _ := o.Str(key)
	return v
}

func firstResponse(payload []byte) (obj, error) {
	v, err := parseJSON(payload)
	if err != nil {
		return nil, fmt.Errorf("answer: %w", ErrInvalidJSON)
	}
	tree, _ := v.(obj)
	rs, _ := tree.Array("responses")
	if len(rs) == 0 {
		return nil, fmt.Errorf("answer holds no responses")
	}
	r, ok := rs[0].(obj)
	if !ok {
		return nil, fmt.Errorf("answer holds no responses")
	}
	return r, nil
}

func (c NewClient) command() obj {
	cmd := obj{{"command", "createClient"}, {"username", c.Username}}
	if len(c.Password) > 0 {
		cmd = append(cmd, member{"password", string(c.Password)})
	}
	if c.ClientID != "" {
		cmd = append(cmd, member{"clientid", c.ClientID})
	}
	if c.TextName != "" {
		cmd = append(cmd, member{"textname", c.TextName})
	}
	if c.TextDescription != "" {
		cmd = append(cmd, member{"textdescription", c.TextDescription})
	}
	if len(c.Roles) > 0 {
		roles := []any{}
		for _, r := range c.Roles {
			roles = append(roles, obj{{"rolename", r.Role}, {"priority", r.Priority}})
		}
		cmd = append(cmd, member{"roles", roles})
	}
	if len(c.Groups) > 0 {
		groups := []any{}
		for _, g := range c.Groups {
			groups = append(groups, obj{{"groupname", g.Group}, {"priority", g.Priority}})
		}
		cmd = append(cmd, member{"groups", groups})
	}
	return cmd
}

// DeleteClient removes a client; its sessions are kicked.
func (s *Store) DeleteClient(username string) error {
	_, err := s.run(obj{{"command", "deleteClient"}, {"username", username}})
	return err
}

// DisableClient refuses the client's future logins and kicks its sessions.
func (s *Store) DisableClient(username string) error {
	_, err := s.run(obj{{"command", "disableClient"}, {"username", username}})
	return err
}

// EnableClient allows a disabled client again.
func (s *Store) EnableClient(username string) error {
	_, err := s.run(obj{{"command", "enableClient"}, {"username", username}})
	return err
}

// SetClientPassword sets a new password (not empty).
func (s *Store) SetClientPassword(username string, password []byte) error {
	_, err := s.run(obj{{"command", "setClientPassword"}, {"username", username}, {"password", string(password)}})
	return err
}

// AddClientRole gives a client a role.
func (s *Store) AddClientRole(username, role string, priority int) error {
	_, err := s.run(obj{{"command", "addClientRole"}, {"username", username}, {"rolename", role}, {"priority", priority}})
	return err
}

// AddGroupClient puts a client in a group.
func (s *Store) AddGroupClient(group, username string, priority int) error {
	_, err := s.run(obj{{"command", "addGroupClient"}, {"groupname", group}, {"username", username}, {"priority", priority}})
	return err
}

// CreateRole adds an empty role.
func (s *Store) CreateRole(name string) error {
	_, err := s.run(obj{{"command", "createRole"}, {"rolename", name}})
	return err
}

// CreateGroup adds an empty group.
func (s *Store) CreateGroup(name string) error {
	_, err := s.run(obj{{"command", "createGroup"}, {"groupname", name}})
	return err
}

// AddRoleACL adds an ACL to a role; acltype is one of the ACL* constants.
func (s *Store) AddRoleACL(role, acltype, topic string, allow bool, priority int) error {
	_, err := s.run(obj{{"command", "addRoleACL"}, {"rolename", role}, {"acltype", acltype}, {"topic", topic}, {"allow", allow}, {"priority", priority}})
	return err
}

// Client returns one client; errors.Is(err, ErrNotFound) when it does not exist.
func (s *Store) Client(username string) (Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.m.client(username)
	if c == nil {
		return Client{}, &CommandError{Command: "getClient", Message: "Client not found"}
	}
	return c.export(), nil
}

// Clients lists every client, sorted by username.
func (s *Store) Clients() []Client {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Client, 0, len(s.m.clients))
	for _, c := range s.m.clients {
		out = append(out, c.export())
	}
	return out
}

func (c *client) export() Client {
	e := Client{Username: c.username, ClientID: c.clientID, Disabled: c.disabled, HasPassword: c.pw != nil}
	if c.textName != nil {
		e.TextName = *c.textName
	}
	if c.textDesc != nil {
		e.TextDescription = *c.textDesc
	}
	for _, r := range c.roles {
		e.Roles = append(e.Roles, RoleRef{r.role.name, r.priority})
	}
	for _, g := range c.groups {
		e.Groups = append(e.Groups, GroupRef{g.group.name, g.priority})
	}
	return e
}

// String formats a client for logs (never a password).
func (c Client) String() string {
	return fmt.Sprintf("%s (clientid %q, disabled %v, %d roles, %d groups)", c.Username, c.ClientID, c.Disabled, len(c.Roles), len(c.Groups))
}
