package testutil

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// The command the cut tests cut: this test binary with cutHelperEnv set,
// which runs the plan in its folder's "plan" file.
const cutHelperEnv = "MQTLS_TESTUTIL_CUT_HELPER"

func TestMain(m *testing.M) {
	if os.Getenv(cutHelperEnv) == "1" {
		if err := runPlan(); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runPlan makes the calls the plan lists (fsync, rename or unlink, one a
// line), each on the other of two threads than the one before, so that
// the Nth call of the process is never the Nth of its thread past the
// second. After each call it creates done-I: a cut at call I leaves
// done-1 to done-(I-1).
func runPlan() error {
	b, err := os.ReadFile("plan")
	if err != nil {
		return err
	}
	f, err := os.Create("data")
	if err != nil {
		return err
	}
	defer f.Close()
	turns := [2]chan func() error{make(chan func() error), make(chan func() error)}
	errs := make(chan error)
	for _, turn := range turns {
		go func() {
			runtime.LockOSThread()
			for op := range turn {
				errs <- op()
			}
		}()
	}
	for i, op := range strings.Fields(string(b)) {
		var call func() error
		switch op {
		case "fsync":
			call = f.Sync
		case "rename":
			call = func() error { return os.Rename("data", "data") }
		case "unlink":
			call = func() error {
				if err := os.WriteFile("gone", nil, 0o600); err != nil {
					return err
				}
				return os.Remove("gone")
			}
		default:
			return fmt.Errorf("plan: unknown call %q", op)
		}
		turns[i%2] <- call
		if err := <-errs; err != nil {
			return err
		}
		if err := os.WriteFile(fmt.Sprintf("done-%d", i+1), nil, 0o600); err != nil {
			return err
		}
	}
	return nil
}

type planCmd struct {
	dir  string
	plan string
}

func newPlan(t *testing.T, plan string) *planCmd {
	p := &planCmd{dir: t.TempDir(), plan: plan}
	p.reset(t, plan)()
	return p
}

// reset gives the command a fresh folder with the plan.
func (p *planCmd) reset(t testing.TB, plan string) func() {
	return func() {
		ents, err := os.ReadDir(p.dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			if err := os.Remove(filepath.Join(p.dir, e.Name())); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(filepath.Join(p.dir, "plan"), []byte(plan), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func (p *planCmd) steps(t *testing.T) []Step {
	return Steps(t, p.dir, []string{cutHelperEnv + "=1"}, os.Args[0])
}

func (p *planCmd) cut(t testing.TB, s Step, plan string) string {
	return Cut(t, p.dir, []string{cutHelperEnv + "=1"}, s, p.reset(t, plan), os.Args[0])
}

// done is how many calls of the plan completed.
func (p *planCmd) done(t *testing.T) int {
	n := 0
	for ; ; n++ {
		if _, err := os.Stat(filepath.Join(p.dir, fmt.Sprintf("done-%d", n+1))); err != nil {
			return n
		}
	}
}

// Every cut lands on the Nth call of the whole process, though the calls
// alternate between two threads (strace's when=N counted the Nth call of
// one thread, and missed every cut past the second).
func TestCutLandsOnTheProcesssNthCall(t *testing.T) {
	const plan = "fsync fsync rename fsync unlink fsync rename fsync fsync unlink"
	p := newPlan(t, plan)
	steps := p.steps(t)
	// unlink's step: the WriteFile makes no call of CutSyscalls.
	want := []string{"fsync#1", "fsync#2", "renameat#1", "fsync#3", "unlinkat#1", "fsync#4", "renameat#2", "fsync#5", "fsync#6", "unlinkat#2"}
	var got []string
	for _, s := range steps {
		got = append(got, fmt.Sprintf("%s#%d", s.Syscall, s.N))
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("steps %v, want %v", got, want)
	}
	for i, s := range steps {
		t.Run(fmt.Sprintf("%s#%d", s.Syscall, s.N), func(t *testing.T) {
			p.cut(t, s, plan)
			if n := p.done(t); n != i {
				t.Errorf("cut at %s (call %d of the process) after %d calls completed", s, i+1, n)
			}
		})
	}
}

// fatalTB records the first Fatal of the harness and ends its goroutine,
// as testing.T does, so that a test can check that the harness fails.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatalf(format string, args ...any) {
	f.msg = fmt.Sprintf(format, args...)
	runtime.Goexit()
}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

// cutFails runs a cut and returns the failure it reported ("" if none).
func cutFails(t *testing.T, p *planCmd, s Step, plan string) string {
	ft := &fatalTB{TB: t}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.cut(ft, s, plan)
	}()
	<-done
	return ft.msg
}

// A cut fails the test when the command does not take the path of its
// clean run: it ends before the step, or makes other calls before it.
func TestCutFailsOffTheCleanPath(t *testing.T) {
	const plan = "fsync rename fsync fsync"
	p := newPlan(t, plan)
	steps := p.steps(t)
	last := steps[len(steps)-1] // fsync#3
	if msg := cutFails(t, p, last, plan); msg != "" {
		t.Fatalf("the cut on the clean path failed: %s", msg)
	}
	for _, c := range []struct{ name, plan, want string }{
		{"ends before the step", "fsync rename fsync", "was not killed there"},
		{"another call before the step", "fsync unlink fsync fsync", "does not take the path of the clean run"},
		{"the step's call comes later", "fsync rename rename fsync fsync", "does not take the path of the clean run"},
	} {
		t.Run(c.name, func(t *testing.T) {
			msg := cutFails(t, p, last, c.plan)
			if !strings.Contains(msg, c.want) {
				t.Errorf("cut at %s with the plan %q: failure %q, want one saying %q", last, c.plan, msg, c.want)
			}
		})
	}
}
