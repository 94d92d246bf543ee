// Package ctl is the client side of Mosquitto 2.0's dynamic security
// control API: the mosquitto_ctrl dynsec command grammar ([BuildRequest],
// [Commands]), what mosquitto_ctrl prints for each answer
// ([PrintResponse]), and one [Target] for where the configuration lives: a
// dynamic-security.json file ([OpenFile]) or a running broker ([Dial]).
//
// The model, the file format, the ACL and the server side of the API are
// package [dynsec]'s; ctl adds the MQTT connection, so that dynsec itself
// knows no MQTT client.
package ctl
