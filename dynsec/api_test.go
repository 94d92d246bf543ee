package dynsec

import (
	"errors"
	"fmt"
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

// The request helpers give a live broker the same commands.
func TestRequestsForLiveBrokers(t *testing.T) {
	s := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateRole("device"))
	must(s.CreateGroup("fleet"))
	nc := NewClient{Username: "DSN2", Password: []byte("pw"), ClientID: "id2", TextName: "Device 2", Roles: []RoleRef{{"device", 4}}, Groups: []GroupRef{{"fleet", -1}}}
	must(ResponseError(s.Control(nc.Request())))
	err := ResponseError(s.Control(nc.Request()))
	var ce *CommandError
	if !errors.As(err, &ce) || ce.Message != "Client already exists" {
		t.Errorf("second create: %v", err)
	}
	must(ResponseError(s.Control(ClientRequest("disableClient", "DSN2"))))
	c, err := ParseClient(s.Control(ClientRequest("getClient", "DSN2")))
	must(err)
	want := Client{Username: "DSN2", ClientID: "id2", TextName: "Device 2", Disabled: true, Roles: []RoleRef{{"device", 4}}, Groups: []GroupRef{{"fleet", -1}}}
	if fmt.Sprint(c) != fmt.Sprint(want) || c.Roles[0] != want.Roles[0] || c.Groups[0] != want.Groups[0] {
		t.Errorf("getClient = %+v, want %+v", c, want)
	}
	if _, err := ParseClient(s.Control(ClientRequest("getClient", "nobody"))); !errors.Is(err, ErrNotFound) {
		t.Errorf("getClient nobody: %v", err)
	}
	if err := s.Login("DSN2", "pw", "id2"); !errors.Is(err, ErrNotAuthorized) {
		t.Errorf("disabled login: %v", err)
	}
}
