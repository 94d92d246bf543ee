package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"testing"

	"mqtls/broker"
	"mqtls/conf"
	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

// TestRunBrokerClosesOnFailedStart: when a listener or the inspector cannot
// start (its port is taken), runBroker returns the error with the broker
// closed: the other listener's port is free again and the dynsec file's
// lock is released, so a second try in the same process works.
func TestRunBrokerClosesOnFailedStart(t *testing.T) {
	t.Run("listener", func(t *testing.T) { testFailedStart(t, "listener %d 127.0.0.1\n") })
	t.Run("inspector", func(t *testing.T) { testFailedStart(t, "inspector 127.0.0.1:%d\n") })
}

func testFailedStart(t *testing.T, busyLine string) {
	dir := t.TempDir()
	ds := filepath.Join(dir, "dynamic-security.json")
	if err := dynsec.Init(ds, "admin", []byte("adminpw")); err != nil {
		t.Fatal(err)
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free := testutil.FreePort(t)
	cfgFile := filepath.Join(dir, "mqtls.conf")
	body := fmt.Sprintf("listener %d 127.0.0.1\n", free) + fmt.Sprintf(busyLine, busy.Addr().(*net.TCPAddr).Port) +
		"plugin /usr/lib/mosquitto_dynamic_security.so\nplugin_opt_config_file " + ds + "\n"
	cfg, err := conf.Parse(cfgFile, []byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if err := runBroker(context.Background(), cfg, broker.Options{}, "", io.Discard, io.Discard); err == nil {
		t.Fatal("runBroker started with a listener on a port in use")
	}
	l, err := net.Listen("tcp", testutil.Addr(free))
	if err != nil {
		t.Errorf("the first listener was left open: %v", err)
	} else {
		l.Close()
	}
	lock, err := dynsec.Lock(ds)
	if err != nil {
		t.Fatalf("the dynsec file is still locked: %v", err)
	}
	lock.Unlock()
}
