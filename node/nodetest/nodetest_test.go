package nodetest

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPortClash(t *testing.T) {
	dir := t.TempDir()
	log := filepath.Join(dir, "node1", "node.log")
	if err := os.MkdirAll(filepath.Dir(log), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(log, []byte("level=INFO msg=\"node started\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if PortClash(dir, "error: node1 exited during start-up") {
		t.Fatal("a start-up failure with no clash in any output was taken for one")
	}
	if !PortClash(dir, "listen tcp 127.0.0.1:26656: bind: address already in use") {
		t.Fatal("a clash in the devnet's own output was missed")
	}
	if err := os.WriteFile(log, []byte("Error: listen tcp 127.0.0.1:26657: bind: address already in use\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if !PortClash(dir) {
		t.Fatal("a clash in a node's log was missed")
	}
}
