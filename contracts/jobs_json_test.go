package contracts

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/holiman/uint256"
)

// TestJobJSONRoundTrip checks that a job read back from a query's JSON is the job that was
// written: clients decode what nodes encode.
func TestJobJSONRoundTrip(t *testing.T) {
	j := &Job{ID: 7, Status: JobVerifying, Escrow: uint256.NewInt(5), Fee: uint256.NewInt(1), Paid: uint256.NewInt(0), Refunded: uint256.NewInt(0),
		Spec:        JobSpec{Type: JobNLP, MaxPrice: uint256.NewInt(9), Redundancy: 1, Requirements: Requirements{Frameworks: []string{"wasi"}}},
		Assignments: []Assignment{{Price: uint256.NewInt(3), Status: AssignNoShow}, {Price: uint256.NewInt(4), Status: AssignAccepted}}}
	b, err := json.Marshal(j)
	if err != nil {
		t.Fatal(err)
	}
	var back Job
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	if !reflect.DeepEqual(j, &back) {
		t.Fatalf("round trip changed the job:\n%+v\n%+v", j, &back)
	}
	var bad JobStatus
	if err := bad.UnmarshalText([]byte("finished")); err == nil {
		t.Fatal("an unknown status name was accepted")
	}
}
