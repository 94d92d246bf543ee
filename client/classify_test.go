package client

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
)

// TestClassifyClosedAfterHandshake: with TLS 1.3 a broker that refuses the
// client certificate closes the socket after the client's handshake is done,
// so the CONNECT write fails with EPIPE or ECONNRESET, or the read sees EOF;
// each is a TLS failure that names the client certificate.
func TestClassifyClosedAfterHandshake(t *testing.T) {
	o := &Options{TLS: &TLSOptions{}}
	cases := map[string]error{
		"broken pipe": &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)},
		"reset":       &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)},
		"eof":         fmt.Errorf("connect: %w", io.EOF),
	}
	for name, err := range cases {
		t.Run(name, func(t *testing.T) {
			got := classify(fmt.Errorf("connect: %w", err), o)
			var te *TLSError
			if !errors.As(got, &te) {
				t.Fatalf("classify(%v) = %v (%T), want a *TLSError", err, got, got)
			}
		})
	}
	plain := fmt.Errorf("connect: %w", &net.OpError{Op: "write", Net: "tcp", Err: os.NewSyscallError("write", syscall.EPIPE)})
	var te *TLSError
	if errors.As(classify(plain, &Options{}), &te) {
		t.Fatal("a broken pipe without TLS must not be called a TLS failure")
	}
}
