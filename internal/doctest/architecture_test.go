package doctest

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestPackageMapOrder keeps ARCHITECTURE.md's package map true: every
// package of the module has a row, and a package imports only packages
// listed below it.
func TestPackageMapOrder(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(root, "ARCHITECTURE.md"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	row := map[string]int{}
	sc := bufio.NewScanner(f)
	inMap := false
	for n := 0; sc.Scan(); {
		l := sc.Text()
		if strings.HasPrefix(l, "## ") {
			inMap = l == "## Package map"
		}
		if !inMap || !strings.HasPrefix(l, "| `") {
			continue
		}
		name := strings.SplitN(l, "`", 3)[1]
		if _, dup := row[name]; dup {
			t.Errorf("ARCHITECTURE.md: %s has two rows", name)
		}
		row[name] = n
		n++
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}

	cmd := exec.Command("go", "list", "-f", `{{.ImportPath}}{{range .Imports}} {{.}}{{end}}`, "./...")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	const mod = "mqtls/"
	for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		fields := strings.Fields(l)
		pkg := strings.TrimPrefix(fields[0], mod)
		at, ok := row[pkg]
		if !ok {
			t.Errorf("ARCHITECTURE.md: package %s has no row in the package map", pkg)
			continue
		}
		for _, imp := range fields[1:] {
			dep, ours := strings.CutPrefix(imp, mod)
			if !ours {
				continue
			}
			if d, ok := row[dep]; ok && d <= at {
				t.Errorf("ARCHITECTURE.md: %s imports %s, which the package map lists above it", pkg, dep)
			}
		}
	}
}
