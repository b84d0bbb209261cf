package contracts

import (
	"testing"

	"github.com/holiman/uint256"
)

// TestParamsCacheFollowsState checks that the cache never serves stale parameters and that
// callers cannot change the cached copy through the amounts they get.
func TestParamsCacheFollowsState(t *testing.T) {
	kv := NewMemStore()
	st := state{kv: kv}
	p := DefaultParams()
	if err := st.setParams(p); err != nil {
		t.Fatal(err)
	}
	var c ParamsCache
	got, err := c.get(st)
	if err != nil {
		t.Fatal(err)
	}
	if !got.MinTxFee.Eq(p.MinTxFee) {
		t.Fatalf("min fee %s, want %s", got.MinTxFee.Dec(), p.MinTxFee.Dec())
	}
	got.MinTxFee.SetUint64(1) // a caller scribbling on its copy
	again, _ := c.get(st)
	if !again.MinTxFee.Eq(p.MinTxFee) {
		t.Fatalf("a caller's change leaked into the cache: %s", again.MinTxFee.Dec())
	}
	p.MinTxFee = uint256.NewInt(42)
	if err := st.setParams(p); err != nil {
		t.Fatal(err)
	}
	changed, _ := c.get(st)
	if changed.MinTxFee.Uint64() != 42 {
		t.Fatalf("cache served stale params: min fee %s after a change to 42", changed.MinTxFee.Dec())
	}
}
