package device_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/dynsec"
	"mqtls/internal/testutil"
)

const badCSV = `id,role,group,days
# a comment line
DSN000101,device,plant1,30
DSN000102,device,,
DSN000101,device,,
bad/id,device,,
DSN000103,nosuchrole,,
DSN000104,,,
DSN000105,device,nosuchgroup,
DSN000106,sensor,plant1,90
`

// Import with bad rows: good rows are onboarded, each bad one reported with
// its line number, the exit is non-zero, and a re-run changes nothing.
func TestImportBadRows(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte(badCSV), 0o644); err != nil {
		t.Fatal(err)
	}
	out, code := f.mqtls(t, "device", "import", "devices.csv", "-f", f.dsFile)
	if code != 1 {
		t.Fatalf("import: exit %d, want 1\n%s", code, out)
	}
	for _, want := range []string{
		"line 5: DSN000101: duplicate id (first on line 3)",
		"line 6: bad/id: invalid device id",
		`line 7: DSN000103: unknown role "nosuchrole"`,
		`line 9: DSN000105: unknown group "nosuchgroup"`,
		"8 devices: 4 added, 0 completed, 0 already done, 4 failed",
		"4 of 8 devices failed: DSN000101 (line 5), bad/id (line 6), DSN000103 (line 7), DSN000105 (line 9)",
		// Not a terminal: plain progress lines, the refused rows first.
		"mqtls: import: 4/8\nmqtls: import: 5/8\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	f.checkDevices(t, map[string]string{"DSN000101": "device", "DSN000102": "device", "DSN000104": "device", "DSN000106": "sensor"})
	before, err := os.ReadFile(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := os.ReadFile(filepath.Join(f.pki, ca.IndexFile))
	if err != nil {
		t.Fatal(err)
	}

	out, code = f.mqtls(t, "device", "import", "devices.csv", "-f", f.dsFile)
	if code != 1 || !strings.Contains(out, "8 devices: 0 added, 0 completed, 4 already done, 4 failed") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	after, _ := os.ReadFile(f.dsFile)
	idx2, _ := os.ReadFile(filepath.Join(f.pki, ca.IndexFile))
	if string(before) != string(after) || string(idx) != string(idx2) {
		t.Error("a re-run changed the dynamic security file or the index")
	}
}

// checkDevices checks that each device has a current certificate with its
// files and p12, and an enabled dynamic security client with its role; and
// that no device client exists without a current certificate.
func (f *fleet) checkDevices(t *testing.T, want map[string]string) {
	t.Helper()
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatalf("load CA: %v", err)
	}
	s, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatalf("load dynamic security file: %v", err)
	}
	for id, role := range want {
		e, ok, err := a.Lookup(id)
		if err != nil || !ok || !e.Current {
			t.Errorf("%s: no current certificate (%v)", id, err)
			continue
		}
		for _, ext := range []string{".crt", ".key", ".p12", ".p12.pass"} {
			if _, err := os.Stat(f.issued(id + ext)); err != nil {
				t.Errorf("%s: %v", id, err)
			}
		}
		cl, err := s.Client(id)
		if err != nil || cl.Disabled || len(cl.Roles) != 1 || cl.Roles[0].Role != role {
			t.Errorf("%s: client %+v, %v; want role %s", id, cl, err, role)
		}
	}
	for _, cl := range s.Clients() {
		if cl.Username == "admin" {
			continue
		}
		if e, ok, _ := a.Lookup(cl.Username); !ok || !e.Current {
			t.Errorf("client %s has no current certificate", cl.Username)
		}
	}
}

// A crash mid-import (kill -9) leaves a readable index and dynamic security
// file, no client without its certificate, and a re-run finishes the job.
func TestImportKilledMidway(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	const n = 300
	var b strings.Builder
	want := map[string]string{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("K%06d", i)
		fmt.Fprintf(&b, "%s,device,,\n", id)
		want[id] = "device"
	}
	if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, f.dir, testutil.Mqtls(t), "device", "import", "devices.csv", "-f", f.dsFile, "--pki", f.pki)
	idx := filepath.Join(f.pki, ca.IndexFile)
	testutil.WaitFor(t, time.Minute, "a third of the devices in the index", func() bool {
		data, _ := os.ReadFile(idx)
		return strings.Count(string(data), "\n") > n/3
	})
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(t, 10*time.Second)
	data, _ := os.ReadFile(idx)
	issued := strings.Count(string(data), `"issue"`)
	if issued >= n {
		t.Fatalf("the import finished before the kill (%d issued): the test proves nothing", issued)
	}
	t.Logf("killed after %d of %d certificates", issued, n)

	// Consistent: both files load; every client has its certificate.
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatalf("index after kill -9: %v", err)
	}
	if _, err := a.List(); err != nil {
		t.Fatalf("index after kill -9: %v", err)
	}
	f.checkDevices(t, nil)
	t.Logf("the kill left %d temporary files", len(testutil.TempFiles(t, f.dir)))

	out, code := f.mqtls(t, "device", "import", "devices.csv", "-f", f.dsFile)
	if code != 0 {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	// The re-run removed what the kill left (keys among it).
	if left := testutil.TempFiles(t, f.dir); len(left) > 0 {
		t.Errorf("temporary files left after the re-run: %v", left)
	}
	t.Logf("re-run: %s", strings.TrimSpace(out))
	if !strings.Contains(out, fmt.Sprintf("%d devices:", n)) || strings.Contains(out, " 0 added, 0 completed") {
		t.Errorf("re-run summary:\n%s", out)
	}
	f.checkDevices(t, want)
	out, code = f.mqtls(t, "device", "import", "devices.csv", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, fmt.Sprintf("0 added, 0 completed, %d already done, 0 failed", n)) {
		t.Fatalf("third run: exit %d\n%s", code, out)
	}
}

// SIGINT mid-import: the devices in flight are finished and saved (no
// certificate is left without its client), and a re-run does the rest.
func TestImportInterrupted(t *testing.T) {
	t.Parallel()
	f := newFleet(t)
	const n = 300
	var b strings.Builder
	want := map[string]string{}
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("I%06d", i)
		fmt.Fprintf(&b, "%s,device,,\n", id)
		want[id] = "device"
	}
	if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	p := testutil.Start(t, f.dir, testutil.Mqtls(t), "device", "import", "devices.csv", "-f", f.dsFile, "--pki", f.pki)
	idx := filepath.Join(f.pki, ca.IndexFile)
	testutil.WaitFor(t, time.Minute, "a third of the devices in the index", func() bool {
		data, _ := os.ReadFile(idx)
		return strings.Count(string(data), "\n") > n/3
	})
	if err := p.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	if code := p.Wait(t, time.Minute); code != 1 || !strings.Contains(p.Stderr(), "interrupted") {
		t.Fatalf("interrupted import: exit %d\n%s", code, p.Stderr())
	}
	a, err := ca.Load(f.pki)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := a.List()
	if err != nil {
		t.Fatal(err)
	}
	s, err := dynsec.Load(f.dsFile)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if _, err := s.Client(e.Name); e.Current && err != nil {
			t.Errorf("%s has a certificate but no client after SIGINT: %v", e.Name, err)
		}
	}
	if len(entries) >= n {
		t.Fatalf("the import finished before the signal (%d issued)", len(entries))
	}
	f.checkDevices(t, nil)
	out, code := f.mqtls(t, "device", "import", "devices.csv", "-f", f.dsFile)
	if code != 0 || !strings.Contains(out, "0 completed") {
		t.Fatalf("re-run: exit %d\n%s", code, out)
	}
	f.checkDevices(t, want)
}
