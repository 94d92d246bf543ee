package device

// Writing a bundle all or nothing: the folder is built beside its target
// and renamed into place, so a failure part way leaves the previous bundle
// (or none) as it was, never a mix of old and new files.

import (
	"fmt"
	"os"
	"path/filepath"

	"mqtls/internal/fileio"
)

// bundleFile is one file of a bundle folder.
type bundleFile struct {
	name string
	data []byte
	mode os.FileMode
}

// zipStaging is where the new zip waits inside the staged folder until it
// is renamed to its place.
const zipStaging = ".bundle.zip"

// writeBundle writes files into dir and zipData to zipPath, replacing an
// older bundle only once the new one is complete.
func writeBundle(dir, zipPath string, files []bundleFile, zipData []byte) (err error) {
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o700); err != nil {
		return fmt.Errorf("create folder %s: %w", parent, err)
	}
	// MkdirTemp makes the staging folder 0700, as a bundle folder is.
	stage, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".new-")
	if err != nil {
		return fmt.Errorf("write bundle: %w", err)
	}
	staged := true
	defer func() {
		if staged {
			os.RemoveAll(stage)
		}
	}()
	for _, f := range files {
		if err := fileio.WriteFile(filepath.Join(stage, f.name), f.data, f.mode); err != nil {
			return fmt.Errorf("write bundle: %w", err)
		}
	}
	// The zip holds the private key (inside the p12): 0600 like the p12.
	if err := fileio.WriteFile(filepath.Join(stage, zipStaging), zipData, 0o600); err != nil {
		return fmt.Errorf("write bundle zip: %w", err)
	}

	// Move an older bundle folder aside (to a name that shares the staging
	// folder's random part), put the new one in its place, then the zip;
	// undo on failure.
	var old string
	if _, err := os.Lstat(dir); err == nil {
		old = stage + ".old"
		if err := os.Rename(dir, old); err != nil {
			return fmt.Errorf("replace bundle folder %s: %w", dir, err)
		}
	}
	restore := func() {
		if old != "" {
			os.Rename(old, dir)
		}
	}
	if err := os.Rename(stage, dir); err != nil {
		restore()
		return fmt.Errorf("write bundle folder %s: %w", dir, err)
	}
	staged = false
	if err := os.Rename(filepath.Join(dir, zipStaging), zipPath); err != nil {
		// Put the new folder back to staging so that the old one returns.
		if e := os.Rename(dir, stage); e == nil {
			staged = true
			restore()
		}
		return fmt.Errorf("write bundle zip %s: %w", zipPath, err)
	}
	if old != "" {
		os.RemoveAll(old)
	}
	syncDir(parent)
	return nil
}

// syncDir makes the renames in dir durable, where the system allows it.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}
