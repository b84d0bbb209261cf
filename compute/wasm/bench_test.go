package wasm

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute"
	"github.com/ciro-network/ciro-node/compute/wasm/internal/wcount"
)

var printWASM sync.Once

// BenchmarkExecWASMOverhead runs a trivial job (word count over three small files) through the
// executor and the same Go function natively, and prints the ratio of their times per run.
// The executor's time includes instantiating the module and the Go runtime's start-up; the
// module is compiled once beforehand (the compilation cache is warm, as on a provider).
func BenchmarkExecWASMOverhead(b *testing.B) {
	const reps = 20
	e := newExec(b)
	in := writeInputs(b)
	if _, err := e.Run(context.Background(), job("wc"), compute.Inputs{Dir: in, Artifact: guest}); err != nil {
		b.Fatal(err)
	}
	var names []string
	filepath.WalkDir(in, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for r := 0; r < reps; r++ {
			res, err := e.Run(context.Background(), job("wc"), compute.Inputs{Dir: in, Artifact: guest})
			if err != nil {
				b.Fatal(err)
			}
			os.RemoveAll(res.Dir)
		}
		wasmT := time.Since(start) / reps
		start = time.Now()
		for r := 0; r < reps*50; r++ {
			dir := b.TempDir()
			var total wcount.Counts
			for _, n := range names {
				f, err := os.Open(n)
				if err != nil {
					b.Fatal(err)
				}
				c, _ := wcount.Count(f)
				f.Close()
				total.Words += c.Words
			}
			os.WriteFile(filepath.Join(dir, "counts.txt"), []byte(fmt.Sprint(total)), 0o644)
		}
		nativeT := time.Since(start) / (reps * 50)
		printWASM.Do(func() {
			fmt.Printf("BENCH exec_wasm_overhead_ratio %.1f wasm_us=%d native_us=%d reps=%d\n",
				float64(wasmT)/float64(nativeT), wasmT.Microseconds(), nativeT.Microseconds(), reps)
		})
	}
}
