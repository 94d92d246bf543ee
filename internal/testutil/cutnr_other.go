//go:build !linux || !(amd64 || arm64)

package testutil

import (
	"os/exec"
	"runtime"
	"testing"
)

var cutNR = map[string]uint32{}

type supervised struct {
	calls  []string
	killed bool
	err    error
}

func supervise(t testing.TB, at *Step) (func(string, ...string) []string, func(*exec.Cmd) (func() supervised, error)) {
	t.Helper()
	t.Fatalf("crash cuts need seccomp on linux/amd64 or linux/arm64, not %s/%s", runtime.GOOS, runtime.GOARCH)
	return nil, nil
}
