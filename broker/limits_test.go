package broker_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"mqtls/internal/testutil"
)

// vmRSS reads the resident memory of a process in KiB.
func vmRSS(t *testing.T, pid int) int {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			n, err := strconv.Atoi(strings.Fields(v)[0])
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no VmRSS")
	return 0
}

// hugeConnect is a CONNECT fixed header that declares a 200 MB packet.
func hugeConnect() []byte {
	n := 200 << 20
	b := []byte{0x10}
	for {
		d := byte(n % 128)
		n /= 128
		if n > 0 {
			d |= 0x80
		}
		b = append(b, d)
		if n == 0 {
			return b
		}
	}
}

// TestHugeConnectRefused: four clients that declare 200 MB CONNECTs and
// stream data are cut off at once; the broker stays under 64 MB resident.
func TestHugeConnectRefused(t *testing.T) {
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\n", p), p)
	var wg sync.WaitGroup
	sent := make([]int, 4)
	for i := range sent {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", testutil.Addr(p))
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(20 * time.Second))
			if _, err := c.Write(hugeConnect()); err != nil {
				t.Error(err)
				return
			}
			chunk := make([]byte, 64<<10)
			for sent[i] < 200<<20 {
				n, err := c.Write(chunk)
				sent[i] += n
				if err != nil {
					return // the broker closed the connection
				}
			}
		}()
	}
	wg.Wait()
	for i, n := range sent {
		if n >= 200<<20 {
			t.Errorf("client %d could send the whole 200 MB packet", i)
		}
	}
	rss := vmRSS(t, b.Cmd.Process.Pid)
	t.Log(b.Stderr())
	t.Logf("broker VmRSS after 4 x 200 MB CONNECT attempts: %d KiB; sent %v bytes", rss, sent)
	if rss > 64<<10 {
		t.Errorf("broker resident memory %d KiB is over 64 MiB", rss)
	}
}

// TestIdleSocketsClosed: sockets that send nothing (no TLS handshake, no
// CONNECT) are closed after the connect timeout (2 s in tests).
func TestIdleSocketsClosed(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t, dir, "Idle")
	ca.leaf("server", leafOpts{cn: "localhost", server: true})
	plain, tlsPort := testutil.FreePort(t), testutil.FreePort(t)
	conf := fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nlistener %d 127.0.0.1\ncertfile server.crt\nkeyfile server.key\n", plain, tlsPort)
	b := startBroker(t, dir, conf, plain, tlsPort)
	for _, port := range []int{plain, tlsPort} {
		t.Run(fmt.Sprint(port == tlsPort), func(t *testing.T) {
			c, err := net.Dial("tcp", testutil.Addr(port))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			// Our own deadline is far beyond the broker's 2 s.
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = c.Read(make([]byte, 1))
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatal("the broker kept an idle socket open")
			}
			if err != io.EOF && !errors.Is(err, net.ErrClosed) && !strings.Contains(fmt.Sprint(err), "reset") {
				t.Fatalf("read: %v", err)
			}
		})
	}
	b.waitLog(t, "no handshake before the deadline")
}

// TestLimits: max_connections per listener, max_packet_size and
// retain_available false.
func TestLimits(t *testing.T) {
	testutil.Need(t, "mosquitto_pub", "mosquitto_sub")
	dir := t.TempDir()
	p := testutil.FreePort(t)
	b := startBroker(t, dir, fmt.Sprintf("listener %d 127.0.0.1\nallow_anonymous true\nmax_connections 2\nmax_packet_size 1000\nretain_available false\nlog_type all\n", p), p)
	args := func(more ...string) []string { return append([]string{"-h", "127.0.0.1", "-p", port(p)}, more...) }
	sub := testutil.Start(t, dir, "mosquitto_sub", args("-i", "lim-sub", "-t", "lim/#", "-v")...)
	b.waitLog(t, "lim-sub 0 lim/#")
	// A payload over max_packet_size ends the publisher's connection and is
	// not delivered (v3.1.1: a v5 client is told the limit in CONNACK and
	// does not send it).
	out, code := mosq(t, dir, "mosquitto_pub", args("-V", "311", "-i", "big", "-q", "1", "-t", "lim/big", "-m", strings.Repeat("x", 2000))...)
	if code == 0 {
		t.Errorf("oversized publish accepted: %s", out)
	}
	b.waitLog(t, "Client big closed its connection: packet too large")
	// A retained publish is refused with retain_available false.
	mosq(t, dir, "mosquitto_pub", args("-V", "5", "-r", "-q", "1", "-t", "lim/ret", "-m", "r")...)
	if out, code := mosq(t, dir, "mosquitto_sub", args("-t", "lim/ret", "-C", "1", "-W", "2")...); code != 27 {
		t.Errorf("retained message kept with retain_available false: exit %d %q", code, out)
	}
	// Two connections are open (the subscriber and one more); the third is refused.
	holder := testutil.Start(t, dir, "mosquitto_sub", args("-i", "holder", "-t", "lim/hold")...)
	b.waitLog(t, "as holder")
	if out, code := mosq(t, dir, "mosquitto_pub", args("-i", "third", "-t", "lim/x", "-m", "1")...); code == 0 {
		t.Errorf("third connection accepted with max_connections 2: %s", out)
	}
	b.waitLog(t, "refused: max_connections reached")
	holder.Kill()
	sub.Kill()
	if strings.Contains(sub.Stdout(), "lim/big") {
		t.Error("the oversized message was delivered")
	}
}
