package device_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"mqtls/ca"
	"mqtls/device"
	"mqtls/internal/testutil"
)

// benchDevices is the fleet size of the onboarding benchmark; the shell
// recipe runs on opensslDevices and is scaled up to it.
const (
	benchDevices   = 10000
	opensslDevices = 40
)

// BenchmarkOnboard compares, in one run, `mqtls device import` of 10,000
// devices (key, certificate, p12 and dynamic security client each) with the
// seed's recipe in a shell loop: openssl for the key, CSR, signature and p12,
// and mosquitto_ctrl against Mosquitto's dynamic security plugin for the
// client, on a smaller count scaled up. Both report seconds per 10,000
// devices (s/10k).
func BenchmarkOnboard(b *testing.B) {
	testutil.Need(b, "openssl", "mosquitto", "mosquitto_ctrl", "bash")
	b.Run(fmt.Sprintf("mqtls-import-%d", benchDevices), func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			f := newFleet(b)
			var sb strings.Builder
			for i := 1; i <= benchDevices; i++ {
				fmt.Fprintf(&sb, "B%06d,device,,\n", i)
			}
			if err := os.WriteFile(filepath.Join(f.dir, "devices.csv"), []byte(sb.String()), 0o644); err != nil {
				b.Fatal(err)
			}
			bin := testutil.Mqtls(b)
			b.StartTimer()
			start := time.Now()
			out, code := testutil.Run(b, f.dir, 10*time.Minute, bin, "device", "import", "devices.csv", "-f", f.dsFile, "--pki", f.pki)
			total += time.Since(start)
			b.StopTimer()
			if code != 0 || !strings.Contains(out, fmt.Sprintf("%d added", benchDevices)) {
				b.Fatalf("import: exit %d\n%s", code, out)
			}
		}
		b.ReportMetric(total.Seconds()/float64(b.N), "s/10k")
	})
	b.Run(fmt.Sprintf("openssl-shell-%d-scaled", opensslDevices), func(b *testing.B) {
		var total time.Duration
		for range b.N {
			b.StopTimer()
			dir, port := opensslSetup(b)
			b.StartTimer()
			start := time.Now()
			cmd := exec.Command("bash", "-c", opensslLoop, "loop", strconv.Itoa(opensslDevices), strconv.Itoa(port))
			cmd.Dir = dir
			if out, err := cmd.CombinedOutput(); err != nil {
				b.Fatalf("openssl loop: %v\n%s", err, out)
			}
			total += time.Since(start)
			b.StopTimer()
		}
		b.ReportMetric(total.Seconds()/float64(b.N)*benchDevices/opensslDevices, "s/10k")
	})
}

// opensslLoop is the seed's recipe per device: key, CSR, signature by the
// CA, a phone-safe (3DES) p12, and the dynamic security client with its role.
const opensslLoop = `set -euo pipefail
n=$1 port=$2
for i in $(seq 1 "$n"); do
	id=$(printf 'S%06d' "$i")
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$id.key" 2>/dev/null
	openssl req -new -key "$id.key" -subj "/CN=$id" -out "$id.csr"
	openssl x509 -req -in "$id.csr" -CA ca.crt -CAkey ca.key -CAcreateserial -days 365 -out "$id.crt" 2>/dev/null
	head -c 18 /dev/urandom | base64 > "$id.p12.pass"
	openssl pkcs12 -export -in "$id.crt" -inkey "$id.key" -certfile ca.crt -out "$id.p12" \
		-keypbe PBE-SHA1-3DES -certpbe PBE-SHA1-3DES -macalg sha1 -passout "file:$id.p12.pass"
	printf '\n\n' | mosquitto_ctrl -h 127.0.0.1 -p "$port" -u admin -P admin-secret dynsec createClient "$id" >/dev/null 2>&1
	mosquitto_ctrl -h 127.0.0.1 -p "$port" -u admin -P admin-secret dynsec addClientRole "$id" device
done
`

// opensslSetup makes a CA with openssl and starts Mosquitto with the
// dynamic security plugin on a copy of the fleet's file.
func opensslSetup(b *testing.B) (string, int) {
	f := newFleet(b)
	out, code := testutil.Run(b, f.dir, time.Minute, "openssl", "req", "-new", "-x509", "-nodes", "-days", "365",
		"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-subj", "/CN=Bench CA",
		"-addext", "basicConstraints=critical,CA:TRUE", "-keyout", "ca.key", "-out", "ca.crt")
	if code != 0 {
		b.Fatalf("openssl CA: %s", out)
	}
	port := testutil.FreePort(b)
	testutil.Mosquitto(b, port, fmt.Sprintf("plugin %s\nplugin_opt_config_file %s\nlistener %d 127.0.0.1\n", dynsecPlugin(b), f.dsFile, port))
	return f.dir, port
}

// BenchmarkImportInProcess runs Onboarder.Import in the test process, so
// that `go test -bench ImportInProcess -cpuprofile` profiles the onboarding
// itself (BenchmarkOnboard runs the binary). It reports seconds per 10,000
// devices from a smaller fleet.
func BenchmarkImportInProcess(b *testing.B) {
	const n = 1000
	var total time.Duration
	for range b.N {
		b.StopTimer()
		f := newFleet(b)
		rows := make([]device.Row, n)
		for i := range rows {
			rows[i] = device.Row{Line: i + 1, Spec: device.Spec{ID: fmt.Sprintf("P%06d", i+1), Role: "device"}}
		}
		a, err := ca.Open(f.pki, nil)
		if err != nil {
			b.Fatal(err)
		}
		tg, err := device.OpenFile(f.dsFile)
		if err != nil {
			b.Fatal(err)
		}
		o := &device.Onboarder{CA: a, Target: tg}
		b.StartTimer()
		start := time.Now()
		sum, err := o.Import(rows, nil, device.ImportOptions{})
		if err == nil {
			err = tg.Close()
		}
		total += time.Since(start)
		b.StopTimer()
		if err != nil || sum.Added != n {
			b.Fatalf("import: %+v, %v", sum, err)
		}
	}
	b.ReportMetric(total.Seconds()/float64(b.N)*benchDevices/n, "s/10k")
}
