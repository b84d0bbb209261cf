// Package badgerutil holds what the project's badger stores share: recovery from a crash that
// badger itself does not handle.
package badgerutil

import (
	"fmt"
	"os"
	"path/filepath"
)

// RemoveEmptyMemtables deletes zero-length memtable files (*.mem) in dir. Badger creates a
// memtable's file before it sizes it; a process killed in between leaves an empty file that
// badger then refuses to open ("Create a new file"). An empty memtable holds no entries, so
// removing it loses nothing. Call it before opening badger.
func RemoveEmptyMemtables(dir string) error {
	matches, err := filepath.Glob(filepath.Join(dir, "*.mem"))
	if err != nil {
		return err
	}
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil {
			continue
		}
		if fi.Size() == 0 {
			if err := os.Remove(m); err != nil {
				return fmt.Errorf("badger: remove empty memtable %s: %w", m, err)
			}
		}
	}
	return nil
}
