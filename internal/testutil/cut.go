package testutil

// Crash tests without hooks in the program: strace kills a command with
// SIGKILL on entry to its Nth call of a system call (strace's fault
// injection, -e inject=SYSCALL:signal=KILL:when=N). The call does not
// happen; everything before it did, as after a kill -9 at that instant.
//
// strace counts calls per thread, and a Go program may move its work to
// another thread after a blocking call, so the Nth call of the process can
// be a thread's first. A cut is therefore checked against strace's own log
// (the killed call must be the Nth of the whole process) and run again, from
// the same starting state, until it lands where it was asked to.

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// CutSyscalls are the calls at which a crash can change what a later run
// finds on disk: a file's content becomes durable (fsync), a name moves to
// a new file (rename) or goes (unlink), a file is cut short (ftruncate).
var CutSyscalls = []string{"fsync", "fdatasync", "rename", "renameat", "renameat2", "unlinkat", "ftruncate"}

// Step is a point where a command can be cut: on entry to the Nth call of
// Syscall over all of its threads.
type Step struct {
	Syscall string
	N       int
	// Call is the call as strace printed it, paths of descriptors
	// included: what the command was about to do.
	Call string
}

func (s Step) String() string { return fmt.Sprintf("%s#%d %s", s.Syscall, s.N, s.Call) }

// Steps runs a command once under strace, to completion, and returns every
// point where it can be cut, in the order of the calls. The command must
// succeed.
func Steps(t testing.TB, dir string, env []string, name string, args ...string) []Step {
	t.Helper()
	log, out, err := strace(t, dir, env, nil, name, args...)
	if err != nil {
		t.Fatalf("%s %s under strace: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	steps := parseCalls(log)
	if len(steps) == 0 {
		t.Fatalf("strace saw none of %v in %s %s", CutSyscalls, name, strings.Join(args, " "))
	}
	return steps
}

// maxCutTries bounds the re-runs of a cut that strace placed on a later
// call than asked (see the file comment); it happens to a few runs in ten.
const maxCutTries = 20

// Cut runs a command under strace and kills it on entry to step s. reset
// puts the files back as they were before the command (it runs before every
// try). It returns the command's output, and fails the test when the
// command was not killed at s.
func Cut(t testing.TB, dir string, env []string, s Step, reset func(), name string, args ...string) string {
	t.Helper()
	inject := fmt.Sprintf("%s:signal=KILL:when=%d", s.Syscall, s.N)
	for try := 1; ; try++ {
		reset()
		log, out, err := strace(t, dir, env, []string{"-e", "inject=" + inject}, name, args...)
		calls := parseCalls(log)
		n := 0
		for _, c := range calls {
			if c.Syscall == s.Syscall {
				n++
			}
		}
		killed := err != nil && strings.Contains(string(log), "+++ killed by SIGKILL +++")
		switch {
		case killed && n == s.N:
			if try > 1 {
				t.Logf("cut at %s#%d landed on try %d", s.Syscall, s.N, try)
			}
			return out
		case n > s.N || (!killed && n >= s.N):
			// The work moved to another thread before the Nth call.
			if try == maxCutTries {
				t.Fatalf("cut at %s: after %d tries strace still counted past it\n%s", s, try, log)
			}
		default:
			t.Fatalf("cut at %s: the command made %d %s calls (killed: %v): it does not take the path of the clean run\n%s\n%s", s, n, s.Syscall, killed, out, log)
		}
	}
}

// strace runs name args under strace -f, logging the calls of CutSyscalls
// with descriptors' paths, and returns the log, the command's combined
// output and its error.
func strace(t testing.TB, dir string, env, extra []string, name string, args ...string) ([]byte, string, error) {
	t.Helper()
	Need(t, "strace")
	logPath := filepath.Join(t.TempDir(), "strace.log")
	sargs := []string{"-f", "-qq", "-y", "-o", logPath, "-e", "trace=" + strings.Join(CutSyscalls, ",")}
	sargs = append(append(append(sargs, extra...), "--", name), args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "strace", sargs...)
	cmd.Dir = dir
	// One P keeps the work on fewer threads, so fewer cuts need a re-run.
	cmd.Env = append(append(os.Environ(), "GOMAXPROCS=1"), env...)
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("strace %s %s timed out\n%s", name, strings.Join(args, " "), out)
	}
	log, rerr := os.ReadFile(logPath)
	if rerr != nil {
		t.Fatalf("read strace log: %v", rerr)
	}
	return log, string(out), err
}

// callLine matches the start of a call in strace -f output: "PID name(".
var callLine = regexp.MustCompile(`^\d+\s+([a-z0-9_]+)\((.*)$`)

// parseCalls lists the calls of CutSyscalls in a strace log, numbered per
// system call over all threads.
func parseCalls(log []byte) []Step {
	want := map[string]bool{}
	for _, s := range CutSyscalls {
		want[s] = true
	}
	count := map[string]int{}
	var out []Step
	sc := bufio.NewScanner(bytes.NewReader(log))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		m := callLine.FindStringSubmatch(sc.Text())
		if m == nil || !want[m[1]] {
			continue
		}
		count[m[1]]++
		call := m[1] + "(" + m[2]
		if i := strings.Index(call, " <unfinished"); i >= 0 {
			call = call[:i] + ")"
		} else if i := strings.LastIndex(call, ") "); i >= 0 {
			call = call[:i+1]
		}
		out = append(out, Step{Syscall: m[1], N: count[m[1]], Call: call})
	}
	return out
}

// CopyDir copies the tree src to dst (which must not exist), keeping the
// modes of files and folders: the starting state of a cut.
func CopyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		to := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		if d.IsDir() {
			if err := os.Mkdir(to, info.Mode().Perm()); err != nil {
				return err
			}
			return os.Chmod(to, info.Mode().Perm())
		}
		if !info.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		in, err := os.Open(p)
		if err != nil {
			return err
		}
		defer in.Close()
		o, err := os.OpenFile(to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
		if err != nil {
			return err
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			return err
		}
		if err := o.Chmod(info.Mode().Perm()); err != nil {
			o.Close()
			return err
		}
		return o.Close()
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// ResetDir replaces dst by a copy of src.
func ResetDir(t testing.TB, src, dst string) {
	t.Helper()
	if err := os.RemoveAll(dst); err != nil {
		t.Fatal(err)
	}
	CopyDir(t, src, dst)
}

// TempFiles lists the files under dir whose names hold ".tmp-" (what an
// atomic write leaves behind when it is killed) or end in ".new".
func TempFiles(t testing.TB, dir string) []string {
	t.Helper()
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && (strings.Contains(d.Name(), ".tmp-") || strings.HasSuffix(d.Name(), ".new")) {
			out = append(out, p)
		}
		return nil
	})
	return out
}
