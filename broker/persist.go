package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	pebbledb "github.com/cockroachdb/pebble"
	"github.com/mochi-mqtt/server/v2/hooks/storage/pebble"

	"mqtls/internal/fileio"
)

// storeName is the folder of the pebble store under persistence_location.
const storeName = "mqtls.pebble"

// addPersistence adds mochi's pebble hook in Sync mode when persistence is
// on: every session, subscription, retained message and QoS 1/2 message in
// flight is on disk before the broker acknowledges it, so it survives a
// kill -9. (The bolt and redis hooks lose in-flight packet ids; pebble keeps them.)
func (b *Broker) addPersistence() error {
	if !b.cfg.Persistence {
		return nil
	}
	dir := b.cfg.PersistenceLocation
	if dir == "" {
		dir = "."
	}
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		if err := fileio.MkdirPrivate(dir); err != nil {
			return fmt.Errorf("persistence_location: %w", err)
		}
	}
	path := filepath.Join(dir, storeName)
	opts := &pebble.Options{
		Path:    path,
		Mode:    pebble.Sync,
		Options: &pebbledb.Options{Logger: pebbleLogger{b.log}},
	}
	if err := b.server.AddHook(new(pebble.Hook), opts); err != nil {
		return fmt.Errorf("open persistence store %s: %w", path, err)
	}
	b.log.Info("Persistence store " + path + " (sync writes).")
	return nil
}

// pebbleLogger keeps pebble's chatter out of the broker log.
type pebbleLogger struct{ log *slog.Logger }

func (p pebbleLogger) Infof(format string, args ...any) {
	p.log.Debug("pebble: " + fmt.Sprintf(format, args...))
}

func (p pebbleLogger) Fatalf(format string, args ...any) {
	p.log.Error("pebble: " + fmt.Sprintf(format, args...))
	panic(fmt.Sprintf(format, args...))
}
