package broker

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"mqtls/conf"
)

// cgroupTree writes files under a fake root: path relative to it, content.
func cgroupTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for name, body := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestCgroupMemoryLimit: the lowest limit of the process's cgroup and its
// parents, in cgroup v2 and v1; "max" and v1's "unlimited" are no limit.
func TestCgroupMemoryLimit(t *testing.T) {
	cases := map[string]struct {
		files    map[string]string
		want     int64
		wantFile string
	}{
		"v2 container": {map[string]string{
			"proc/self/cgroup":          "0::/\n",
			"sys/fs/cgroup/memory.max":  "2147483648\n",
			"sys/fs/cgroup/memory.high": "max\n",
		}, 2 << 30, "/sys/fs/cgroup/memory.max"},
		"v2 systemd unit": {map[string]string{
			"proc/self/cgroup": "0::/system.slice/mqtls.service\n",
			"sys/fs/cgroup/system.slice/mqtls.service/memory.max":    "1073741824\n",
			"sys/fs/cgroup/system.slice/memory.max":                  "max\n",
			"sys/fs/cgroup/system.slice/other.service/memory.max":    "1048576\n",
			"sys/fs/cgroup/system.slice/mqtls.service/memory.events": "",
		}, 1 << 30, "/sys/fs/cgroup/system.slice/mqtls.service/memory.max"},
		"v2 parent lower": {map[string]string{
			"proc/self/cgroup":                       "0::/a/b\n",
			"sys/fs/cgroup/a/b/memory.max":           "max\n",
			"sys/fs/cgroup/a/memory.max":             "536870912\n",
			"sys/fs/cgroup/a/b/cgroup.controllers":   "memory\n",
			"sys/fs/cgroup/a/cgroup.subtree_control": "memory\n",
		}, 512 << 20, "/sys/fs/cgroup/a/memory.max"},
		"v2 unlimited": {map[string]string{
			"proc/self/cgroup":                "0::/a\n",
			"sys/fs/cgroup/a/memory.max":      "max\n",
			"sys/fs/cgroup/memory.max":        "max\n",
			"sys/fs/cgroup/a/memory.high":     "1048576\n",
			"sys/fs/cgroup/a/memory.low":      "1048576\n",
			"sys/fs/cgroup/a/memory.swap.max": "0\n",
		}, 0, ""},
		"v1 unlimited (this kind of host)": {map[string]string{
			"proc/self/cgroup": "9:name=systemd:/\n4:memory:/process_api/x\n0::/\n",
			"sys/fs/cgroup/memory/process_api/x/memory.limit_in_bytes": "9223372036854771712\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes":               "9223372036854771712\n",
		}, 0, ""},
		"v1 container (host path not visible)": {map[string]string{
			"proc/self/cgroup":                           "12:cpu,cpuacct:/docker/abc\n4:memory:/docker/abc\n",
			"sys/fs/cgroup/memory/memory.limit_in_bytes": "805306368\n",
		}, 768 << 20, "/sys/fs/cgroup/memory/memory.limit_in_bytes"},
		"no cgroup files": {map[string]string{}, 0, ""},
		"junk": {map[string]string{
			"proc/self/cgroup":         "0::/\n",
			"sys/fs/cgroup/memory.max": "lots\n",
		}, 0, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, file := cgroupMemoryLimit(cgroupTree(t, tc.files))
			if got != tc.want || file != tc.wantFile {
				t.Errorf("cgroup limit = %d in %q, want %d in %q", got, file, tc.want, tc.wantFile)
			}
		})
	}
}

// TestResolveMemoryLimit: GOMEMLIMIT wins (with a warning when the config
// sets another), then memory_soft_limit, then 90 % of the cgroup's limit,
// then none.
func TestResolveMemoryLimit(t *testing.T) {
	limited := cgroupTree(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "1073741824\n"})
	free := cgroupTree(t, map[string]string{"proc/self/cgroup": "0::/\n", "sys/fs/cgroup/memory.max": "max\n"})
	withLimit := func(n int64) *conf.Config {
		c := conf.New()
		c.File = "m.conf"
		c.MemorySoftLimit = n
		return c
	}
	cases := map[string]struct {
		cfg         *conf.Config
		env         string
		current     int64
		root        string
		want        int64
		apply       bool
		line, warns string
	}{
		"env": {withLimit(-1), "1GiB", 1 << 30, limited, 1 << 30, false,
			"memory soft limit 1 GiB (GOMEMLIMIT=1GiB in the environment)", ""},
		"env off": {withLimit(-1), "off", math.MaxInt64, limited, 0, false,
			"memory soft limit none (GOMEMLIMIT=off in the environment)", ""},
		"env over config": {withLimit(256 << 20), "1GiB", 1 << 30, free, 1 << 30, false,
			"memory soft limit 1 GiB (GOMEMLIMIT=1GiB in the environment)",
			"memory_soft_limit 256 MiB is ignored: GOMEMLIMIT=1GiB in the environment takes precedence; unset it to use the config file's"},
		"config over cgroup": {withLimit(256 << 20), "", math.MaxInt64, limited, 256 << 20, true,
			"memory soft limit 256 MiB (memory_soft_limit in m.conf)", ""},
		"config none": {withLimit(0), "", math.MaxInt64, limited, 0, true,
			"memory soft limit none (memory_soft_limit in m.conf)", ""},
		"cgroup": {withLimit(-1), "", math.MaxInt64, limited, 966367641, true,
			"memory soft limit 921.6 MiB (90% of the cgroup's memory limit, 1 GiB in /sys/fs/cgroup/memory.max; set memory_soft_limit to change it)", ""},
		"nothing": {withLimit(-1), "", math.MaxInt64, free, 0, true,
			"memory soft limit none (no memory_soft_limit, GOMEMLIMIT or cgroup memory limit: the heap may grow to twice the memory in use before it is collected)", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			m := resolveMemoryLimit(tc.cfg, tc.env, tc.current, tc.root)
			if m.Bytes != tc.want || m.apply != tc.apply || m.String() != tc.line || m.Ignored != tc.warns {
				t.Errorf("got %d apply %v\n%q\n%q\nwant %d apply %v\n%q\n%q", m.Bytes, m.apply, m.String(), m.Ignored, tc.want, tc.apply, tc.line, tc.warns)
			}
			if strings.Contains(m.String(), "\n") {
				t.Errorf("log line has a line break: %q", m.String())
			}
		})
	}
}
