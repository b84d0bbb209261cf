package docker

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
)

var printDocker sync.Once

// BenchmarkExecDockerOverhead runs the trivial "true" job through the executor and as a bare
// `docker run --rm --network none` of the same image via the docker CLI, and prints the ratio.
func BenchmarkExecDockerOverhead(b *testing.B) {
	const reps = 5
	e := newExec(b)
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for r := 0; r < reps; r++ {
			res, err := e.Run(context.Background(), job("true"), compute.Inputs{})
			if err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(res.Dir)
		}
		execT := time.Since(start) / reps
		start = time.Now()
		for r := 0; r < reps; r++ {
			out, err := exec.Command("docker", "run", "--rm", "--network", "none", imageID, "true").CombinedOutput()
			if err != nil {
				b.Fatalf("docker run: %v %s", err, out)
			}
		}
		bareT := time.Since(start) / reps
		printDocker.Do(func() {
			fmt.Printf("BENCH exec_docker_overhead_ratio %.2f executor_ms=%d docker_run_ms=%d reps=%d\n",
				float64(execT)/float64(bareT), execT.Milliseconds(), bareT.Milliseconds(), reps)
		})
	}
}
