package broker

import (
	"bufio"
	"bytes"
	"fmt"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"

	"mqtls/conf"
)

// FreeMemory runs a garbage collection, returns the freed memory to the
// system (the Go runtime otherwise keeps it a while for reuse) and says
// how much is still in use, and under which soft limit.
func FreeMemory() string {
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return fmt.Sprintf("Freed memory: heap in use %d MiB, held from the system %d MiB, soft limit %s.",
		ms.HeapInuse>>20, (ms.Sys-ms.HeapReleased)>>20, formatLimit(debug.SetMemoryLimit(-1)))
}

// cgroupShare is the part of a cgroup's memory limit that the soft limit
// takes by default. The soft limit counts the Go runtime's own memory
// (heap, stacks, its structures), not the page cache of the store's files
// nor the kernel's socket buffers, which the cgroup charges too: a tenth
// is left for those, as other Go servers do.
const cgroupShare = 0.9

// MemoryLimit is the Go runtime's soft memory limit for the broker's
// process and where it comes from.
type MemoryLimit struct {
	// Bytes is the limit; 0 means none.
	Bytes int64
	// From says where it was set, for the log line.
	From string
	// Ignored is a warning for a config value that the environment
	// overrides ("" when there is none).
	Ignored string
	// apply is false when the runtime already holds the limit (GOMEMLIMIT).
	apply bool
}

// ApplyMemoryLimit sets the process's soft memory limit from the
// configuration and returns it. The Go runtime otherwise lets the heap grow
// to about twice the live heap before it collects (GOGC 100), so the
// resident memory of a busy broker peaks far above what its clients hold.
//
// Which limit wins: GOMEMLIMIT in the environment (read by the runtime
// itself; "off" means none), so that whoever starts the process can
// override the file, as with every Go program; then memory_soft_limit;
// then 90 % of the memory limit of the process's cgroup (memory.max in
// cgroup v2, memory.limit_in_bytes in v1), so that a broker in a container
// or a systemd unit with MemoryMax collects before the kernel kills it;
// otherwise none. The limit is set once, at start: SIGHUP does not change
// it (the configuration file is not read again).
//
// It sets a process-wide value: it belongs to the program that runs the
// broker, not to every [New].
//
// It logs nothing: the caller logs the returned limit (its [MemoryLimit.Ignored]
// warning, then its String) once the broker has started, so that a broker that
// fails to start says only why.
func ApplyMemoryLimit(cfg *conf.Config) MemoryLimit {
	m := resolveMemoryLimit(cfg, os.Getenv("GOMEMLIMIT"), debug.SetMemoryLimit(-1), "/")
	if m.apply {
		limit := m.Bytes
		if limit == 0 {
			limit = math.MaxInt64
		}
		debug.SetMemoryLimit(limit)
	}
	return m
}

// String is the start-up log line.
func (m MemoryLimit) String() string {
	return fmt.Sprintf("memory soft limit %s (%s)", formatLimit(m.Bytes), m.From)
}

// resolveMemoryLimit chooses the limit (see [ApplyMemoryLimit]). env is
// GOMEMLIMIT's value, current the runtime's limit (what the runtime made
// of env), root the file system root the cgroup files are read under.
func resolveMemoryLimit(cfg *conf.Config, env string, current int64, root string) MemoryLimit {
	if env != "" {
		if current == math.MaxInt64 {
			current = 0
		}
		m := MemoryLimit{Bytes: current, From: "GOMEMLIMIT=" + env + " in the environment"}
		if cfg.MemorySoftLimit >= 0 {
			m.Ignored = fmt.Sprintf("memory_soft_limit %s is ignored: GOMEMLIMIT=%s in the environment takes precedence; unset it to use the config file's",
				formatLimit(cfg.MemorySoftLimit), env)
		}
		return m
	}
	if cfg.MemorySoftLimit >= 0 {
		from := "memory_soft_limit"
		if cfg.File != "" {
			from += " in " + cfg.File
		}
		return MemoryLimit{Bytes: cfg.MemorySoftLimit, From: from, apply: true}
	}
	if limit, file := cgroupMemoryLimit(root); limit > 0 {
		return MemoryLimit{Bytes: int64(float64(limit) * cgroupShare), apply: true,
			From: fmt.Sprintf("90%% of the cgroup's memory limit, %s in %s; set memory_soft_limit to change it", formatLimit(limit), file)}
	}
	return MemoryLimit{From: "no memory_soft_limit, GOMEMLIMIT or cgroup memory limit: the heap may grow to twice the memory in use before it is collected", apply: true}
}

// cgroupMemoryLimit returns the lowest memory limit set on the process's
// cgroup or one of its parents, and the file that sets it; 0 when none is
// set or the files cannot be read. Both hierarchies are looked for where
// systemd and container runtimes mount them: cgroup v2 at /sys/fs/cgroup,
// v1's memory controller at /sys/fs/cgroup/memory. In a container the
// process's own cgroup is the root of what it sees.
func cgroupMemoryLimit(root string) (int64, string) {
	b, err := os.ReadFile(filepath.Join(root, "proc/self/cgroup"))
	if err != nil {
		return 0, ""
	}
	var best int64
	var bestFile string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		// "0::/PATH" (v2) or "4:memory:/PATH" (v1).
		f := strings.SplitN(sc.Text(), ":", 3)
		if len(f) != 3 {
			continue
		}
		var dir, file string
		switch {
		case f[0] == "0" && f[1] == "":
			dir, file = "sys/fs/cgroup", "memory.max"
		case slices.Contains(strings.Split(f[1], ","), "memory"):
			dir, file = "sys/fs/cgroup/memory", "memory.limit_in_bytes"
		default:
			continue
		}
		// The process's cgroup and each parent up to the root: a parent's
		// limit bounds its children.
		for p := path.Clean("/" + f[2]); ; p = path.Dir(p) {
			name := path.Join("/", dir, p, file)
			if n := readLimit(filepath.Join(root, name)); n > 0 && (best == 0 || n < best) {
				best, bestFile = n, name
			}
			if p == "/" {
				break
			}
		}
	}
	return best, bestFile
}

// readLimit reads a cgroup memory limit file: "max" (v2) or a number of
// bytes near 2^63 (v1's "unlimited", rounded down to a page) mean none.
func readLimit(name string) int64 {
	b, err := os.ReadFile(name)
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n <= 0 || n >= 1<<62 {
		return 0
	}
	return n
}

// formatLimit writes a limit in MiB (GiB when whole), or "none".
func formatLimit(n int64) string {
	switch {
	case n <= 0 || n == math.MaxInt64:
		return "none"
	case n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
}
