package dynsec_test

import (
	"fmt"

	"mqtls/dynsec"
)

// One role confines every device to its own subtree with %u.
func ExampleStore_Control() {
	s := dynsec.New()
	resp := s.Control([]byte(`{"commands":[
		{"command":"createRole","rolename":"device"},
		{"command":"addRoleACL","rolename":"device","acltype":"publishClientSend","topic":"devices/%u/#","allow":true},
		{"command":"createClient","username":"DSN000001","roles":[{"rolename":"device"}],"correlationData":"c1"}]}`))
	fmt.Println(string(resp))
	fmt.Println(s.Allow("DSN000001", "any-id", "devices/DSN000001/temp", dynsec.PublishSend))
	fmt.Println(s.Allow("DSN000001", "any-id", "devices/DSN000002/temp", dynsec.PublishSend))
	fmt.Println(s.Explain("DSN000001", "any-id", "devices/DSN000001/temp", dynsec.PublishSend))
	// Output:
	// {"responses":[{"command":"createRole"},{"command":"addRoleACL"},{"command":"createClient","correlationData":"c1"}]}
	// true
	// false
	// allow: role "device" (a role of the client), ACL publishClientSend "devices/%u/#" priority 0
}
