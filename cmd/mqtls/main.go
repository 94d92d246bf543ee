// Command mqtls is a certificate authority, a secure MQTT broker, MQTT
// command-line clients and a live topic viewer in one binary.
package main

import "os"

func main() {
	os.Exit(run(os.Args, os.Stdout, os.Stderr))
}
