package ca_test

import (
	"fmt"
	"net"
	"os"
	"path/filepath"

	"mqtls/ca"
)

// A dev sandbox, as `mqtls broker` without -c makes it: a CA without a
// password, a server certificate for this machine, and a demo device with
// its p12 bundle.
func Example_devSandbox() {
	tmp, _ := os.MkdirTemp("", "sandbox")
	defer os.RemoveAll(tmp)
	dir := filepath.Join(tmp, "mqtls-dev", "pki")

	if !ca.Exists(dir) {
		if err := ca.Init(dir, ca.InitOptions{Name: "mqtls dev"}); err != nil { // no Password: dev only
			fmt.Println(err)
			return
		}
	}
	c, err := ca.Open(dir, nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := c.IssueServer(ca.ServerOptions{
		Hosts: []string{"localhost"},
		IPs:   []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	dev, err := c.IssueClient("DSN000001", ca.ClientOptions{})
	if err != nil {
		fmt.Println(err)
		return
	}
	bundle, err := c.WriteP12(dev, ca.P12Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	rel := func(p string) string { r, _ := filepath.Rel(dir, p); return r }
	fmt.Println("cafile  ", rel(c.ChainPath()))
	fmt.Println("certfile", rel(c.IssuedPath(srv.Name, ".crt")))
	fmt.Println("keyfile ", rel(c.IssuedPath(srv.Name, ".key")))
	fmt.Println("crlfile ", rel(c.CRLPath()))
	fmt.Println("device  ", dev.Cert.Subject.CommonName, rel(bundle.Path), rel(bundle.PasswordPath))
	// Output:
	// cafile   chain.pem
	// certfile issued/server.crt
	// keyfile  issued/server.key
	// crlfile  crl.pem
	// device   DSN000001 issued/DSN000001.p12 issued/DSN000001.p12.pass
}
