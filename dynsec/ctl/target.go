package ctl

// One interface for where a dynamic security configuration lives: a file
// edited while no broker serves it, or a running broker reached through its
// control API. Both answer the same requests with the same code, the
// store's, and the store owns the saves.

import (
	"context"

	"mqtls/dynsec"
)

// Target runs $CONTROL/dynamic-security/v1 requests: a [File] or a live
// broker ([Conn]).
type Target interface {
	// Exec runs one request (the payload mosquitto_ctrl would publish) and
	// returns the response payload. An error with a non-nil payload is a
	// save error after the change was made in memory.
	Exec(ctx context.Context, request []byte) ([]byte, error)
	// Flush makes the changes so far durable (a no-op for a live broker
	// and for a file that saves every change).
	Flush() error
	// Close flushes and releases the target.
	Close() error
	// Live reports whether the target is a running broker.
	Live() bool
}

// File is a dynamic-security.json as a [Target]: its [dynsec.Store] runs
// the requests and saves the changes, through "<file>.new" and a rename.
type File struct {
	store *dynsec.Store
}

var _ Target = (*File)(nil)

// FileOptions say how [OpenFile] opens a file.
type FileOptions struct {
	// ReadOnly takes no lock, so it works while a broker serves the file,
	// and never writes the file back: for looking only.
	ReadOnly bool
	// Batch keeps changes in memory until Flush or Close, so an import of
	// thousands of devices writes the file a few times instead of once per
	// change. Without it every change is saved at once.
	Batch bool
}

// OpenFile opens a dynamic-security.json. Unless o.ReadOnly it holds the
// file's [dynsec.Lock] until Close, so a broker cannot start serving the
// file meanwhile, and it fails with [dynsec.ErrLocked] when a running
// broker (or another edit) holds it. A missing file fails with an error
// that matches os.ErrNotExist.
func OpenFile(path string, o FileOptions) (*File, error) {
	if o.ReadOnly {
		data, err := dynsec.ReadFile(path)
		if err != nil {
			return nil, err
		}
		s, err := dynsec.Parse(data)
		if err != nil {
			return nil, err
		}
		return &File{store: s}, nil
	}
	s, err := dynsec.Open(path)
	if err != nil {
		return nil, err
	}
	if o.Batch {
		s.DeferSaves()
	}
	return &File{store: s}, nil
}

// Store is the configuration the file was read into.
func (f *File) Store() *dynsec.Store { return f.store }

// Exec runs one request on the store.
func (f *File) Exec(_ context.Context, request []byte) ([]byte, error) {
	return f.store.Exec(request)
}

// Live is false.
func (f *File) Live() bool { return false }

// Flush writes the changes a Batch file kept in memory.
func (f *File) Flush() error { return f.store.Flush() }

// Close flushes and releases the file's lock.
func (f *File) Close() error {
	err := f.store.Flush()
	if cerr := f.store.Close(); err == nil {
		err = cerr
	}
	return err
}
