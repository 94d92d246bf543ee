package dynsec_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"mqtls/dynsec"
)

// TestConcurrentChangesAllSaved: changes made at the same time share file
// writes (group commit), and each call returns only once the file holds
// its change.
func TestConcurrentChangesAllSaved(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "ds.json")
	if err := os.WriteFile(path, []byte(`{"clients": [], "groups": [], "roles": []}`), 0o600); err != nil {
		t.Fatal(err)
	}
	st, err := dynsec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("dev%02d", i)
			if err := st.CreateClient(dynsec.NewClient{Username: name}); err != nil {
				t.Error(err)
				return
			}
			// Saved before CreateClient returned: a fresh load sees it.
			again, err := dynsec.Load(path)
			if err != nil {
				t.Error(err)
				return
			}
			if _, err := again.Client(name); err != nil {
				t.Errorf("%s is not in the file after CreateClient returned: %v", name, err)
			}
		}()
	}
	wg.Wait()
	final, err := dynsec.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(final.Clients()); n != 32 {
		t.Errorf("the file holds %d clients, want 32", n)
	}
}
