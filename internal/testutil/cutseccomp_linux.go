//go:build linux && (amd64 || arm64)

package testutil

// The supervisor side of a cut: cutexec (./cutexec) puts the command under
// a seccomp filter that hands each call of CutSyscalls to us before it
// runs, from every thread of the command, one at a time. We count them over
// the whole process, let each run on, and kill the command with SIGKILL
// while it waits on the Nth: that call never happens.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"
)

// struct seccomp_data, seccomp_notif and seccomp_notif_resp of
// <linux/seccomp.h>.
type seccompData struct {
	Nr   int32
	Arch uint32
	IP   uint64
	Args [6]uint64
}

type seccompNotif struct {
	ID    uint64
	Pid   uint32
	Flags uint32
	Data  seccompData
}

type seccompNotifResp struct {
	ID    uint64
	Val   int64
	Error int32
	Flags uint32
}

var (
	cutexecOnce sync.Once
	cutexecPath string
	cutexecErr  error
)

// cutexec returns the path of the cutexec wrapper, built once per test
// process.
func cutexec(t testing.TB) string {
	t.Helper()
	cutexecOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mqtls-cutexec-")
		if err != nil {
			cutexecErr = err
			return
		}
		cutexecPath = filepath.Join(dir, "cutexec")
		cmd := exec.Command("go", "build", "-o", cutexecPath, "mqtls/internal/testutil/cutexec")
		cmd.Dir = moduleRoot()
		if out, err := cmd.CombinedOutput(); err != nil {
			cutexecErr = fmt.Errorf("go build cutexec: %v\n%s", err, out)
		}
	})
	if cutexecErr != nil {
		t.Fatal(cutexecErr)
	}
	return cutexecPath
}

// supervised is what the supervisor saw of one run.
type supervised struct {
	// calls are the calls of CutSyscalls the command entered, in order.
	calls []string
	// killed: the command was killed on entry to the call asked for.
	killed bool
	err    error
}

// supervise prepares cmd (a command line that ends in the command to cut)
// to run under cutexec, counting its calls of CutSyscalls and killing it on
// entry to the call at (nil: never). start starts cmd and returns a
// function that, once cmd has been waited for, returns what was seen.
func supervise(t testing.TB, at *Step) (wrap func(name string, args ...string) []string, start func(cmd *exec.Cmd) (func() supervised, error)) {
	t.Helper()
	var nrs []string
	names := map[int32]string{}
	for _, s := range CutSyscalls {
		if nr, ok := cutNR[s]; ok {
			nrs = append(nrs, strconv.FormatUint(uint64(nr), 10))
			names[int32(nr)] = s
		}
	}
	bin := cutexec(t)
	wrap = func(name string, args ...string) []string {
		return append([]string{bin, strings.Join(nrs, ","), "--", name}, args...)
	}
	start = func(cmd *exec.Cmd) (func() supervised, error) {
		fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return nil, fmt.Errorf("socketpair: %w", err)
		}
		ours, theirs := os.NewFile(uintptr(fds[0]), "cut supervisor"), os.NewFile(uintptr(fds[1]), "cut command")
		defer ours.Close()
		cmd.ExtraFiles = []*os.File{theirs} // descriptor 3 in cutexec
		err = cmd.Start()
		theirs.Close()
		if err != nil {
			return nil, err
		}
		listener, err := recvListener(int(ours.Fd()))
		if err != nil {
			// The command is running but unsupervised: the caller's
			// Wait reports how it ended, and the test fails with err.
			return func() supervised { return supervised{err: err} }, nil
		}
		wakeR, wakeW, err := os.Pipe()
		if err != nil {
			unix.Close(listener)
			return nil, err
		}
		var sup supervised
		done := make(chan struct{})
		go func() {
			defer close(done)
			sup = loop(listener, int(wakeR.Fd()), names, at)
		}()
		return func() supervised {
			wakeW.Close()
			<-done
			wakeR.Close()
			unix.Close(listener)
			return sup
		}, nil
	}
	return wrap, start
}

// recvListener receives the seccomp listener cutexec sends before it
// starts the command.
func recvListener(sock int) (int, error) {
	buf := make([]byte, 1)
	oob := make([]byte, unix.CmsgSpace(4))
	_, oobn, _, _, err := unix.Recvmsg(sock, buf, oob, unix.MSG_CMSG_CLOEXEC)
	if err != nil {
		return -1, fmt.Errorf("receive the seccomp listener: %w", err)
	}
	msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
	if err != nil || len(msgs) != 1 {
		return -1, fmt.Errorf("cutexec sent no seccomp listener (it failed before the command started)")
	}
	fds, err := unix.ParseUnixRights(&msgs[0])
	if err != nil || len(fds) != 1 {
		return -1, fmt.Errorf("cutexec sent no seccomp listener: %v", err)
	}
	return fds[0], nil
}

// loop answers the notifications of listener until wake is closed (the
// command was waited for) or no task uses the filter any more.
func loop(listener, wake int, names map[int32]string, at *Step) supervised {
	var sup supervised
	count := map[string]int{}
	for {
		pfds := []unix.PollFd{{Fd: int32(listener), Events: unix.POLLIN}, {Fd: int32(wake), Events: unix.POLLIN}}
		if _, err := unix.Poll(pfds, -1); err != nil {
			if errors.Is(err, unix.EINTR) {
				continue
			}
			sup.err = fmt.Errorf("poll the seccomp listener: %w", err)
			return sup
		}
		if pfds[0].Revents&unix.POLLIN == 0 {
			if pfds[0].Revents != 0 || pfds[1].Revents != 0 {
				return sup
			}
			continue
		}
		var req seccompNotif
		if err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_RECV, unsafe.Pointer(&req)); err != nil {
			if errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOENT) {
				continue // the caller died meanwhile
			}
			sup.err = fmt.Errorf("receive a seccomp notification: %w", err)
			return sup
		}
		if sup.killed {
			continue // another thread, dying with the command
		}
		name := names[req.Data.Nr]
		sup.calls = append(sup.calls, name)
		count[name]++
		if at != nil && name == at.Syscall && count[name] == at.N {
			// The caller waits on us: SIGKILL ends the whole process
			// before the call runs.
			if err := unix.Kill(int(req.Pid), unix.SIGKILL); err != nil {
				sup.err = fmt.Errorf("kill the command at %s: %w", at, err)
				return sup
			}
			sup.killed = true
			continue
		}
		resp := seccompNotifResp{ID: req.ID, Flags: unix.SECCOMP_USER_NOTIF_FLAG_CONTINUE}
		if err := ioctl(listener, unix.SECCOMP_IOCTL_NOTIF_SEND, unsafe.Pointer(&resp)); err != nil && !errors.Is(err, unix.ENOENT) {
			sup.err = fmt.Errorf("let %s run: %w", name, err)
			return sup
		}
	}
}

func ioctl(fd int, req uintptr, arg unsafe.Pointer) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), req, uintptr(arg)); errno != 0 {
		return errno
	}
	return nil
}
