package badgerutil

import (
	"os"
	"path/filepath"
	"testing"
)

func TestRemoveEmptyMemtables(t *testing.T) {
	dir := t.TempDir()
	empty := filepath.Join(dir, "00001.mem")
	full := filepath.Join(dir, "00002.mem")
	other := filepath.Join(dir, "000001.vlog")
	for path, size := range map[string]int{empty: 0, full: 16, other: 0} {
		if err := os.WriteFile(path, make([]byte, size), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := RemoveEmptyMemtables(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("empty memtable kept: %v", err)
	}
	for _, keep := range []string{full, other} {
		if _, err := os.Stat(keep); err != nil {
			t.Errorf("%s removed: %v", keep, err)
		}
	}
}
