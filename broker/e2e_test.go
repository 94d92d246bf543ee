package broker_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// broker is an mqtls broker process started by a test.
type brokerProc struct {
	*testutil.Proc
	dir  string
	conf string
}

// startBroker writes conf into dir and runs "mqtls broker -c" there, then
// waits until every port accepts connections.
func startBroker(t *testing.T, dir, conf string, ports ...int) *brokerProc {
	t.Helper()
	path := filepath.Join(dir, "mqtls.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	return restartBroker(t, &brokerProc{dir: dir, conf: path}, ports...)
}

// restartBroker starts the broker again with the same config.
func restartBroker(t *testing.T, b *brokerProc, ports ...int) *brokerProc {
	t.Helper()
	p := testutil.Start(t, b.dir, testutil.Mqtls(t), "broker", "-c", b.conf, "--connect-timeout", "2s")
	for _, port := range ports {
		testutil.WaitPort(t, p, testutil.Addr(port))
	}
	return &brokerProc{Proc: p, dir: b.dir, conf: b.conf}
}

// waitLog waits until the broker's log holds want.
func (b *brokerProc) waitLog(t *testing.T, want string) {
	t.Helper()
	testutil.WaitFor(t, 10*time.Second, fmt.Sprintf("broker log line %q", want), func() bool {
		return strings.Contains(b.Stderr(), want)
	})
}

// mosq runs a Mosquitto client program to completion.
func mosq(t *testing.T, dir, name string, args ...string) (string, int) {
	t.Helper()
	testutil.Need(t, name)
	return testutil.Run(t, dir, 20*time.Second, name, args...)
}

func port(p int) string { return fmt.Sprint(p) }

func writeFile(path, text string) error { return os.WriteFile(path, []byte(text), 0o600) }
