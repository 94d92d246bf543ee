package bench

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/PID/stat. It is
// 100 on every Linux architecture Go supports.
const clockTicks = 100

// procSample is one reading of a process's CPU time and memory.
type procSample struct {
	at  time.Time
	cpu time.Duration // user + system
	rss int64         // bytes
	hwm int64         // VmHWM, the peak rss of the process's life, bytes
}

// readProc reads /proc/PID/stat and /proc/PID/status.
func readProc(pid int) (procSample, error) {
	s := procSample{at: time.Now()}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return s, fmt.Errorf("read broker process %d: %w", pid, err)
	}
	// The command name (field 2) may hold spaces: fields are counted after
	// its closing parenthesis. utime and stime are fields 14 and 15.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 {
		return s, fmt.Errorf("read broker process %d: malformed stat", pid)
	}
	f := strings.Fields(string(stat[i+1:]))
	if len(f) < 13 {
		return s, fmt.Errorf("read broker process %d: malformed stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return s, fmt.Errorf("read broker process %d: malformed stat", pid)
	}
	s.cpu = time.Duration(ut+st) * time.Second / clockTicks
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return s, fmt.Errorf("read broker process %d: %w", pid, err)
	}
	for line := range strings.SplitSeq(string(status), "\n") {
		for _, f := range []struct {
			name string
			to   *int64
		}{{"VmRSS:", &s.rss}, {"VmHWM:", &s.hwm}} {
			if rest, ok := strings.CutPrefix(line, f.name); ok {
				kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
				if err != nil {
					return s, fmt.Errorf("read broker process %d: malformed %s", pid, strings.TrimSuffix(f.name, ":"))
				}
				*f.to = kb * 1024
			}
		}
	}
	return s, nil
}

// Broker is what was measured of the broker process during a run.
type Broker struct {
	PID int `json:"pid"`
	// CPU is the broker's CPU time over the measured interval divided by
	// its wall time: 1.0 is one core fully busy.
	CPU float64 `json:"cpu_cores"`
	// CPUSeconds is the broker's user+system time over the interval.
	CPUSeconds float64 `json:"cpu_seconds"`
	// PerCoreSecond is the run's main count (messages received by
	// subscribers, or connections) per second of broker CPU.
	PerCoreSecond float64 `json:"per_core_second,omitempty"`
	// RSSBefore and RSSAfter are resident memory in bytes.
	RSSBefore int64 `json:"rss_before_bytes"`
	RSSAfter  int64 `json:"rss_after_bytes"`
}

// brokerBetween builds a Broker from two samples; count is the number of
// events the broker's CPU time paid for.
func brokerBetween(pid int, a, b procSample, count int64) *Broker {
	wall := b.at.Sub(a.at).Seconds()
	cpu := (b.cpu - a.cpu).Seconds()
	br := &Broker{PID: pid, CPUSeconds: cpu, RSSBefore: a.rss, RSSAfter: b.rss}
	if wall > 0 {
		br.CPU = cpu / wall
	}
	if cpu > 0 {
		br.PerCoreSecond = float64(count) / cpu
	}
	return br
}
