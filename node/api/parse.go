package api

import (
	"strings"

	"github.com/holiman/uint256"

	"github.com/ciro-network/ciro-node/contracts"
)

// AmountForms says how an amount may be written, for error messages.
const AmountForms = "write it as CIRO with the unit (0.5ciro, 1.5CIRO, 20000ciro) or as a whole number of the smallest unit, 10^-18 CIRO (500000000000000000)"

// ParseAmount reads an amount as a person types it. A refusal quotes the text as given and
// says which forms are accepted; a bare decimal such as 0.5 suggests its form with the unit.
func ParseAmount(s string) (*uint256.Int, error) {
	a, err := contracts.ParseAmount(s)
	if err == nil {
		return a, nil
	}
	t := strings.TrimSpace(s)
	if strings.Count(t, ".") == 1 && !strings.ContainsAny(strings.ToLower(t), "abcdefghijklmnopqrstuvwxyz") {
		if _, err := contracts.ParseAmount(t + "ciro"); err == nil {
			return nil, contracts.Errorf(contracts.CodeInvalidArgument, "%q is not an amount: a decimal needs its unit; did you mean %sciro? %s", s, t, AmountForms)
		}
	}
	return nil, contracts.Errorf(contracts.CodeInvalidArgument, "%q is not an amount: %s", s, AmountForms)
}

// ParseJobType reads a job type by name in any case (aiinference, AIInference). A refusal
// lists the 13 types.
func ParseJobType(s string) (contracts.JobType, error) {
	names := make([]string, 0, contracts.NumJobTypes)
	for t := contracts.JobType(0); t < contracts.NumJobTypes; t++ {
		if strings.EqualFold(strings.TrimSpace(s), t.String()) {
			return t, nil
		}
		names = append(names, t.String())
	}
	return 0, contracts.Errorf(contracts.CodeUnknownJobType, "job type %q is not one of the 13 types: %s", s, strings.Join(names, ", "))
}
