package docker

import (
	"errors"
	"reflect"
	"testing"

	"github.com/docker/docker/api/types/container"

	"github.com/ciro-network/ciro-node/compute"
)

// TestGPURequest checks the device request of CUDA jobs without running one: a count when the
// provider offers every GPU, the first n offered IDs when it restricts them.
func TestGPURequest(t *testing.T) {
	gpu := [][]string{{"gpu"}}
	for _, tc := range []struct {
		name    string
		allowed []string
		want    int
		req     container.DeviceRequest
		err     error
	}{
		{name: "any GPU, none asked", want: 0, req: container.DeviceRequest{Driver: "nvidia", Count: 1, Capabilities: gpu}},
		{name: "any GPUs", want: 3, req: container.DeviceRequest{Driver: "nvidia", Count: 3, Capabilities: gpu}},
		{name: "offered, none asked", allowed: []string{"2", "5"}, want: 0,
			req: container.DeviceRequest{Driver: "nvidia", DeviceIDs: []string{"2"}, Capabilities: gpu}},
		{name: "offered, two of three", allowed: []string{"1", "2", "3"}, want: 2,
			req: container.DeviceRequest{Driver: "nvidia", DeviceIDs: []string{"1", "2"}, Capabilities: gpu}},
		{name: "offered, all", allowed: []string{"0", "3"}, want: 2,
			req: container.DeviceRequest{Driver: "nvidia", DeviceIDs: []string{"0", "3"}, Capabilities: gpu}},
		{name: "more than offered", allowed: []string{"0"}, want: 2, err: compute.ErrRequirementsUnmet},
	} {
		t.Run(tc.name, func(t *testing.T) {
			allowed := append([]string(nil), tc.allowed...)
			req, err := gpuRequest("nvidia", tc.allowed, tc.want)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("error %v, want %v", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(req, tc.req) {
				t.Fatalf("request %+v, want %+v", req, tc.req)
			}
			if req.Count != 0 && len(req.DeviceIDs) != 0 {
				t.Fatalf("request names both a count and device IDs: %+v", req)
			}
			// The request owns its IDs: the executor's list is never aliased or changed.
			if len(req.DeviceIDs) > 0 {
				req.DeviceIDs[0] = "x"
			}
			if !reflect.DeepEqual(tc.allowed, allowed) {
				t.Fatalf("allowed IDs changed to %v", tc.allowed)
			}
		})
	}
}
