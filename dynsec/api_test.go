package dynsec

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestGoAPIOnFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "dynsec.json")
	if err := Init(path, "admin", []byte("pw")); err != nil {
		t.Fatal(err)
	}
	s, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateRole("device"))
	must(s.AddRoleACL("device", ACLPublishClientSend, "devices/%u/#", true, 0))
	must(s.CreateGroup("fleet"))
	must(s.CreateClient(NewClient{Username: "DSN000001", Roles: []RoleRef{{"device", -1}}, Groups: []GroupRef{{"fleet", 3}}}))
	err = s.CreateClient(NewClient{Username: "DSN000001"})
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Message != "Client already exists" {
		t.Errorf("duplicate: %v", err)
	}
	must(s.DisableClient("DSN000001"))
	again, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := again.Client("DSN000001")
	must(err)
	if !c.Disabled || c.HasPassword || len(c.Roles) != 1 || c.Roles[0].Role != "device" || len(c.Groups) != 1 || c.Groups[0] != (GroupRef{"fleet", 3}) {
		t.Errorf("reloaded client %+v", c)
	}
	must(s.DeleteClient("DSN000001"))
	if _, err := s.Client("DSN000001"); !errors.Is(err, ErrNotFound) {
		t.Errorf("deleted client: %v", err)
	}
	if n := len(s.Clients()); n != 1 {
		t.Errorf("%d clients, want 1 (admin)", n)
	}
}
