package fileio

// Writes: a reader, or a crash, sees either the old content or the new one,
// never a half-written file, and the mode asked for is the mode the file
// ends with (os.WriteFile keeps the mode of an existing file).

import (
	"fmt"
	"os"
	"path/filepath"
)

// WriteFile writes data to a temporary file in the same directory, sets perm on
// it, syncs it, and renames it over path. On any failure path is untouched and
// the temporary file is removed.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, "", -1)
}

// WriteFileGroup is WriteFile that also gives the file to group gid before
// it takes path's place, so that it is never readable by the wrong group
// and a failed change of group leaves path untouched.
func WriteFileGroup(path string, data []byte, perm os.FileMode, gid int) error {
	return write(path, data, perm, "", gid)
}

// WriteFileVia is WriteFile with a fixed temporary name (for example
// "dynamic-security.json.new", the name Mosquitto uses), for formats whose
// readers know that name.
func WriteFileVia(path, tmp string, data []byte, perm os.FileMode) error {
	return write(path, data, perm, tmp, -1)
}

func write(path string, data []byte, perm os.FileMode, tmpName string, gid int) (err error) {
	dir := filepath.Dir(path)
	var f *os.File
	if tmpName == "" {
		f, err = os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	} else {
		// A leftover temporary file (or a symbolic link planted under its
		// name) is removed, not opened: O_EXCL never follows a link, so the
		// data cannot be written anywhere but here. A folder there is left
		// alone, and the open below fails.
		if st, lerr := os.Lstat(tmpName); lerr == nil && !st.IsDir() {
			if rmErr := os.Remove(tmpName); rmErr != nil {
				return fmt.Errorf("write %s: %w", path, rmErr)
			}
		}
		f, err = os.OpenFile(tmpName, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if gid >= 0 {
		if err = f.Chown(-1, gid); err != nil {
			return fmt.Errorf("write %s: give it to group %d: %w", path, gid, err)
		}
	}
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable. Errors are ignored: some file systems
// cannot sync a directory, and the data itself is already on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// MkdirPrivate creates dir (and parents) and forces it to 0700, also when it
// already existed with a wider mode.
func MkdirPrivate(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create folder %s: %w", dir, err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("create folder %s: %w", dir, err)
	}
	return nil
}
