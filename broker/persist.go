package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"mqtls/broker/store"
	"mqtls/internal/fileio"
)

// storeName is the folder of the store under persistence_location.
const storeName = "mqtls.store"

// oldStoreName is the folder of mochi's pebble hook that earlier versions
// used; its format is not read.
const oldStoreName = "mqtls.pebble"

// addPersistence adds the store hook and the inbound hook that acknowledges
// QoS 1/2 publishes after the store made them durable. Without persistence
// the store keeps nothing and every write is durable at once: the path is
// the same (see package store and inbound.go).
func (b *Broker) addPersistence() error {
	mode, err := store.ParseSync(b.cfg.PersistenceSync)
	if err != nil {
		return err
	}
	path := ""
	if b.cfg.Persistence {
		dir := b.cfg.PersistenceLocation
		if dir == "" {
			dir = "."
		}
		if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
			if err := fileio.MkdirPrivate(dir); err != nil {
				return fmt.Errorf("persistence_location: %w", err)
			}
		}
		path = filepath.Join(dir, storeName)
		if _, err := os.Stat(filepath.Join(dir, oldStoreName)); err == nil {
			b.log.Warn(fmt.Sprintf("Persistence: %s was written by an earlier version and is not read; sessions start from %s.", filepath.Join(dir, oldStoreName), path))
		}
	}
	s, err := store.Open(path, mode, b.log)
	if err != nil {
		return err
	}
	b.store = s
	b.storeHook = new(store.Hook)
	if err := b.addHook(b.packets.add(b.storeHook), &store.HookConfig{Store: s, Server: b.server, CallerReadsPackets: true, Omit: b.omitted}); err != nil {
		s.Close()
		return fmt.Errorf("open persistence store %s: %w", path, err)
	}
	if err := b.wildcard.restore(b.storeHook); err != nil {
		s.Close()
		return err
	}
	if err := b.addHook(b.packets.add(&inboundHook{b: b, st: b.storeHook}), nil); err != nil {
		s.Close()
		return fmt.Errorf("add inbound hook: %w", err)
	}
	if path != "" {
		b.log.Info(fmt.Sprintf("Persistence store %s (persistence_sync %s).", path, mode))
	}
	return nil
}
