package checkpoint

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestABIMatchesLayout ties contracts/starknet/abi/CheckpointRegistry.json to the Go layout: the
// Checkpoint struct's members in Felts order, and submit_checkpoint's arguments in Submission's
// order. A change on one side without the other fails here.
func TestABIMatchesLayout(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "contracts", "starknet", "abi", "CheckpointRegistry.json"))
	if err != nil {
		t.Fatal(err)
	}
	var abi []struct {
		Type    string `json:"type"`
		Name    string `json:"name"`
		Members []struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"members"`
		Items []struct {
			Name   string `json:"name"`
			Inputs []struct {
				Name string `json:"name"`
			} `json:"inputs"`
		} `json:"items"`
	}
	if err := json.Unmarshal(raw, &abi); err != nil {
		t.Fatal(err)
	}
	wantCheckpoint := []string{"chain_id", "epoch", "start_height", "end_height", "app_root", "next_set_hash", "jobs_root", "slashes_root", "nonce"}
	var sawStruct, sawSubmit bool
	for _, e := range abi {
		if e.Type == "struct" && e.Name == "ciro_registry::registry::Checkpoint" {
			sawStruct = true
			if len(e.Members) != CheckpointFelts {
				t.Fatalf("ABI Checkpoint has %d members, Go layout %d felts", len(e.Members), CheckpointFelts)
			}
			for i, m := range e.Members {
				if m.Name != wantCheckpoint[i] {
					t.Errorf("ABI Checkpoint member %d is %s, Go layout has %s", i, m.Name, wantCheckpoint[i])
				}
			}
		}
		for _, it := range e.Items {
			if it.Name == SubmitEntryPoint {
				sawSubmit = true
				if len(it.Inputs) != 3 || it.Inputs[0].Name != "checkpoint" || it.Inputs[1].Name != "next_set" || it.Inputs[2].Name != "signatures" {
					t.Errorf("ABI submit_checkpoint inputs %+v", it.Inputs)
				}
			}
		}
	}
	if !sawStruct || !sawSubmit {
		t.Fatalf("ABI lacks the Checkpoint struct (%v) or submit_checkpoint (%v)", sawStruct, sawSubmit)
	}
}
