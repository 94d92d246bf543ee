package ca_test

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/internal/testutil"
)

// TestMain doubles as a helper process for the cross-process tests: with
// MQTLS_CA_HELPER set it issues certificates into a PKI folder and exits.
func TestMain(m *testing.M) {
	if dir := os.Getenv("MQTLS_CA_HELPER"); dir != "" {
		os.Exit(helper(dir, os.Getenv("MQTLS_CA_HELPER_PREFIX"), os.Getenv("MQTLS_CA_HELPER_N")))
	}
	os.Exit(m.Run())
}

// helper issues n client certificates named prefix0..prefix(n-1) from 4
// goroutines; n = 0 means forever (until killed). It prints "ok NAME" or
// "err NAME: ..." per certificate.
func helper(dir, prefix, nStr string) int {
	n, _ := strconv.Atoi(nStr)
	c, err := ca.Open(dir, nil)
	if err != nil {
		fmt.Println("open:", err)
		return 1
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; n == 0 || i < n; i += 4 {
				name := prefix + strconv.Itoa(i)
				_, err := c.IssueClient(name, ca.ClientOptions{})
				mu.Lock()
				if err != nil {
					fmt.Printf("err %s: %v\n", name, err)
				} else {
					fmt.Printf("ok %s\n", name)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return 0
}

func helperCmd(t *testing.T, dir, prefix string, n int) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MQTLS_CA_HELPER="+dir, "MQTLS_CA_HELPER_PREFIX="+prefix, "MQTLS_CA_HELPER_N="+strconv.Itoa(n))
	return cmd
}

func TestCrossProcessIssue(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	// Two processes issue the same 60 names at once, plus this process 20
	// of its own: every name ends up issued exactly once.
	var outs [2]bytes.Buffer
	var cmds [2]*exec.Cmd
	for i := range cmds {
		cmds[i] = helperCmd(t, c.Dir(), "dev", 60)
		cmds[i].Stdout = &outs[i]
		if err := cmds[i].Start(); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i++ {
		if _, err := c.IssueClient("own"+strconv.Itoa(i), ca.ClientOptions{}); err != nil {
			t.Error(err)
		}
	}
	for i := range cmds {
		if err := cmds[i].Wait(); err != nil {
			t.Fatalf("helper %d: %v\n%s", i, err, outs[i].String())
		}
	}
	oks := map[string]int{}
	for _, o := range outs {
		for _, line := range strings.Split(strings.TrimSpace(o.String()), "\n") {
			if name, ok := strings.CutPrefix(line, "ok "); ok {
				oks[name]++
			} else if !strings.Contains(line, "already issued") && !strings.Contains(line, "being issued") {
				t.Errorf("helper: %s", line)
			}
		}
	}
	if len(oks) != 60 {
		t.Errorf("%d names issued by the helpers, want 60", len(oks))
	}
	for name, n := range oks {
		if n != 1 {
			t.Errorf("%s issued %d times", name, n)
		}
	}
	fresh, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	l, _ := fresh.List()
	if len(l) != 80 {
		t.Errorf("index holds %d entries, want 80", len(l))
	}
}

// TestKill9MidBatch kills a process in the middle of issuing and checks that
// the index still loads, that every certificate file on disk is in it, and
// that issuing goes on.
func TestKill9MidBatch(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	cmd := helperCmd(t, c.Dir(), "k", 0)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(c.Dir(), ca.IndexFile)
	testutil.WaitFor(t, 60*time.Second, "the helper to issue 100 certificates", func() bool {
		b, _ := os.ReadFile(idx)
		return bytes.Count(b, []byte("\n")) > 100
	})
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	fresh, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatalf("load after kill -9: %v", err)
	}
	l, err := fresh.List()
	if err != nil {
		t.Fatal(err)
	}
	inIndex := map[string]bool{}
	complete := 0
	for _, e := range l {
		inIndex[e.Name] = true
		if ok, err := fresh.HasFiles(e.Name); err != nil {
			t.Fatal(err)
		} else if ok {
			complete++
		}
	}
	// All but the few in flight at the kill have their files.
	if complete < len(l)-8 {
		t.Errorf("only %d of %d indexed certificates have their files", complete, len(l))
	}
	crts, _ := filepath.Glob(filepath.Join(c.Dir(), ca.IssuedDir, "*.crt"))
	for _, p := range crts {
		name := strings.TrimSuffix(filepath.Base(p), ".crt")
		if !inIndex[name] {
			t.Errorf("%s is on disk but not in the index", name)
		}
	}
	c2, err := ca.Open(c.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c2.IssueClient("after-kill", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
}

func TestTornLastLineIsCut(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	if _, err := c.IssueClient("a", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(c.Dir(), ca.IndexFile)
	good, _ := os.ReadFile(idx)
	// What a crash mid-append leaves: part of a line, no newline.
	torn := append(bytes.Clone(good), []byte(`{"op":"issue","name":"b","kind":"cli`)...)
	if err := os.WriteFile(idx, torn, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatalf("a reader must ignore a torn last line: %v", err)
	}
	if l, _ := r.List(); len(l) != 1 {
		t.Errorf("%d entries, want 1", len(l))
	}
	w, err := ca.Open(c.Dir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.IssueClient("b", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(idx)
	if !bytes.HasPrefix(after, good) || bytes.Contains(after, []byte(`"kind":"cli{`)) || !bytes.HasSuffix(after, []byte("\n")) {
		t.Errorf("torn tail not cut cleanly:\n%s", after)
	}
	r2, err := ca.Load(c.Dir())
	if err != nil {
		t.Fatal(err)
	}
	if l, _ := r2.List(); len(l) != 2 {
		t.Errorf("%d entries after repair, want 2", len(l))
	}
}

func TestCorruptIndexRefused(t *testing.T) {
	t.Parallel()
	cases := map[string]func([]byte) []byte{
		"changed serial": func(b []byte) []byte {
			i := bytes.Index(b, []byte(`"serial":"`)) + len(`"serial":"`)
			b[i] ^= 1
			return b
		},
		"not json":      func(b []byte) []byte { return append([]byte("garbage\n"), b...) },
		"deleted field": func(b []byte) []byte { return bytes.Replace(b, []byte(`"kind":"client",`), nil, 1) },
		"emptied":       func([]byte) []byte { return []byte{} },
	}
	for name, damage := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newCA(t, ca.InitOptions{})
			for _, n := range []string{"a", "b"} {
				if _, err := c.IssueClient(n, ca.ClientOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			idx := filepath.Join(c.Dir(), ca.IndexFile)
			b, _ := os.ReadFile(idx)
			bad := damage(bytes.Clone(b))
			if err := os.WriteFile(idx, bad, 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := ca.Load(c.Dir()); !errors.Is(err, ca.ErrCorruptIndex) || !strings.Contains(err.Error(), "line") {
				t.Errorf("load: %v, want a corrupt index error naming the line", err)
			}
			if _, err := ca.Open(c.Dir(), nil); !errors.Is(err, ca.ErrCorruptIndex) {
				t.Errorf("open: %v, want a corrupt index error", err)
			}
			// A CA opened before the damage refuses too when the file shrank
			// or its tail changed (a same-size edit in the middle is found
			// by the next Open); either way nothing is written.
			_, err := c.IssueClient("c", ca.ClientOptions{})
			if name != "changed serial" && !errors.Is(err, ca.ErrCorruptIndex) {
				t.Errorf("issue on a corrupt index: %v", err)
			}
			if name != "changed serial" {
				if after, _ := os.ReadFile(idx); !bytes.Equal(after, bad) {
					t.Error("the corrupt index was modified")
				}
				if _, err := os.Stat(filepath.Join(c.Dir(), ca.IssuedDir, "c.crt")); err == nil {
					t.Error("a certificate was written despite the corrupt index")
				}
			}
		})
	}
}

// TestIndexSizeBounded: an index larger than ca.MaxIndex (a sparse file
// here: nothing is written to disk) is refused before it is read, with one
// line naming the file and the bound, by Load, by Open and by a CA opened
// before it grew; nothing is written to it.
func TestIndexSizeBounded(t *testing.T) {
	t.Parallel()
	c := newCA(t, ca.InitOptions{})
	if _, err := c.IssueClient("a", ca.ClientOptions{}); err != nil {
		t.Fatal(err)
	}
	idx := filepath.Join(c.Dir(), ca.IndexFile)
	if err := os.Truncate(idx, ca.MaxIndex+1); err != nil {
		t.Fatal(err)
	}
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, ca.ErrCorruptIndex) || !strings.Contains(err.Error(), "512 MiB") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line corrupt index error naming the bound", what, err)
		}
	}
	_, err := ca.Load(c.Dir())
	check("load", err)
	_, err = ca.Open(c.Dir(), nil)
	check("open", err)
	_, err = c.IssueClient("b", ca.ClientOptions{})
	check("issue with a CA opened before", err)
	if st, err := os.Stat(idx); err != nil || st.Size() != ca.MaxIndex+1 {
		t.Errorf("the index was changed: %v, %d bytes", err, st.Size())
	}
}
