package api

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/contracts"
)

func TestParseAmount(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want string // the amount in units, or "" for a refusal
		msg  []string
	}{
		{in: "0.5ciro", want: "500000000000000000"},
		{in: "1.5CIRO", want: "1500000000000000000"},
		{in: "500000000000000000", want: "500000000000000000"},
		{in: "1.5.5ciro", msg: []string{`"1.5.5ciro" is not an amount`, "0.5ciro", "500000000000000000"}},
		{in: "0.5", msg: []string{`"0.5" is not an amount`, "did you mean 0.5ciro?"}},
		{in: "ten", msg: []string{`"ten" is not an amount`, "1.5CIRO"}},
	} {
		a, err := ParseAmount(tc.in)
		if tc.want != "" {
			if err != nil || a.Dec() != tc.want {
				t.Errorf("%q: %v %v, want %s", tc.in, a, err, tc.want)
			}
			continue
		}
		if contracts.CodeOf(err) != contracts.CodeInvalidArgument {
			t.Errorf("%q: err %v, want invalid_argument", tc.in, err)
			continue
		}
		for _, m := range tc.msg {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("%q: %q lacks %q", tc.in, err, m)
			}
		}
	}
}

func TestParseJobType(t *testing.T) {
	for _, in := range []string{"AIInference", "aiinference", "AIINFERENCE", " aiInference "} {
		if got, err := ParseJobType(in); err != nil || got != contracts.JobAIInference {
			t.Errorf("%q: %v %v", in, got, err)
		}
	}
	_, err := ParseJobType("Mining")
	if contracts.CodeOf(err) != contracts.CodeUnknownJobType {
		t.Fatalf("Mining: %v", err)
	}
	for tp := contracts.JobType(0); tp < contracts.NumJobTypes; tp++ {
		if !strings.Contains(err.Error(), tp.String()) {
			t.Errorf("the refusal %q does not list %s", err, tp)
		}
	}
}

func TestEmptyList(t *testing.T) {
	var none []*contracts.Job
	b, _ := json.Marshal(EmptyList(none))
	if string(b) != "[]" {
		t.Fatalf("nil slice written %s", b)
	}
	b, _ = json.Marshal(EmptyList(map[string]int(nil)))
	if string(b) != "null" {
		t.Fatalf("a nil map written %s: only lists change", b)
	}
}
