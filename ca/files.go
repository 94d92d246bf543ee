package ca

import (
	"fmt"
	"os"
	"path/filepath"

	"mqtls/internal/fileio"
)

// DeferSync switches batch mode on or off. In batch mode issued files (keys,
// certificates, p12 bundles) are still written atomically (temporary file,
// chmod, rename) but not fsynced one by one, which costs a few milliseconds
// per file; call [CA.Sync] when the batch is done. Index lines stay synced
// before the files are written, so a crash can lose files of certificates
// the index records (renew them), never the reverse. Device onboarding
// uses it to issue thousands of certificates in seconds.
// Batch mode needs syncfs(2), so it exists on Linux only; elsewhere
// DeferSync is ignored and every file is synced.
func (c *CA) DeferSync(on bool) { c.deferSync.Store(on && canSyncFS) }

// Sync flushes everything written to the PKI folder's file system.
func (c *CA) Sync() error {
	if err := syncFS(c.dir); err != nil {
		return fmt.Errorf("sync %s: %w", c.dir, err)
	}
	return nil
}

// writeFile writes an issued file atomically with mode perm; fsynced unless
// in batch mode.
func (c *CA) writeFile(path string, data []byte, perm os.FileMode) error {
	if !c.deferSync.Load() {
		return fileio.WriteFile(path, data, perm)
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	err = f.Chmod(perm)
	if err == nil {
		_, err = f.Write(data)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
