package node

import (
	"testing"

	"github.com/ciro-network/ciro-node/contracts"
)

// A cancel the chain would refuse is refused before it is sent, with the chain's code.
func TestCancelRefusal(t *testing.T) {
	client, other := contracts.Address{1}, contracts.Address{2}
	for _, tc := range []struct {
		name   string
		job    contracts.Job
		sender contracts.Address
		want   contracts.Code
	}{
		{"pending, own job", contracts.Job{ID: 1, Client: client, Status: contracts.JobPending}, client, contracts.CodeOK},
		{"someone else's job", contracts.Job{ID: 2, Client: client, Status: contracts.JobPending}, other, contracts.CodeUnauthorized},
		{"already cancelled", contracts.Job{ID: 3, Client: client, Status: contracts.JobCancelled}, client, contracts.CodeJobState},
		{"completed", contracts.Job{ID: 4, Client: client, Status: contracts.JobCompleted}, client, contracts.CodeJobState},
		{"pending but taken", contracts.Job{ID: 5, Client: client, Status: contracts.JobPending, Assignments: []contracts.Assignment{{}}}, client, contracts.CodeJobState},
	} {
		if got := contracts.CodeOf(cancelRefusal(&tc.job, tc.sender)); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
	}
}

func TestRoleNames(t *testing.T) {
	for roles, want := range map[uint8]string{
		0: "none", contracts.RoleValidator: "validator", contracts.RoleProvider: "provider",
		contracts.RoleValidator | contracts.RoleProvider: "validator, provider",
	} {
		if got := RoleNames(roles); got != want {
			t.Errorf("RoleNames(%d) = %q, want %q", roles, got, want)
		}
	}
}
