// Package dynsec is Mosquitto 2.0's Dynamic Security model: clients, groups
// and roles, the dynamic-security.json file, the ACL algorithm and the
// $CONTROL/dynamic-security/v1 API.
package dynsec
