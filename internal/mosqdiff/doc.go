// Package mosqdiff holds the differential test: the same scripted client
// scenarios run against a real Mosquitto 2.0 and against mqtls broker, each
// started as a process on a free loopback port, and what each broker answers
// (packets, reason codes, flags, properties, which messages are delivered, in
// what order) must be the same, except for the differences listed, each with
// its reason, in allow_test.go.
//
// Run it alone with:
//
//	go test ./internal/mosqdiff -run TestDiff -v
package mosqdiff
