package zkml

import (
	"context"
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/ciro-network/ciro-node/compute/zkml/internal/mnist"
)

// The proving benchmarks: one MNIST inference proved per variant, the time of the float
// model's plain inference of the same image as the baseline (the ratio is proving's
// overhead), and the constraint count. Keys come from UnsafeSetup: setup is not timed. Each
// line gives the wall time and the CPU time (all threads) of the fastest of three proofs.

func floatInferTime(b *testing.B, onnx []byte, img []byte) time.Duration {
	fm, err := mnist.LoadFloat(onnx)
	if err != nil {
		b.Fatal(err)
	}
	x := mnist.Floats(img)
	const reps = 200
	start := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := fm.Logits(x); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / reps
}

func intInferTime(b *testing.B, c *Compiled, img []byte) time.Duration {
	x := mnist.Quantize(img)
	const reps = 200
	start := time.Now()
	for i := 0; i < reps; i++ {
		if _, err := c.Run(context.Background(), x); err != nil {
			b.Fatal(err)
		}
	}
	return time.Since(start) / reps
}

func ms(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e6 }

// cpuTime is the process's user+system CPU time: on a shared machine the wall time of a proof
// depends on the other load, its CPU time much less.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchProve prints BENCH zk_<name>_prove_ms (Commit) and zk_<name>_plain_prove_ms (Plain);
// with verify it also prints zk_<name>_verify_ms for the Commit variant.
func benchProve(b *testing.B, name, file string, verify bool) {
	onnx := readModel(b, file)
	img := mnistTest(b).Images[0]
	x := mnist.Quantize(img)
	for i := 0; i < b.N; i++ {
		fl := floatInferTime(b, onnx, img)
		for _, v := range []Variant{Commit, Plain} {
			c := compile(b, onnx, Options{Variant: v, InputBits: mnist.InputBits})
			pk, vk, err := UnsafeSetup(c)
			if err != nil {
				b.Fatal(err)
			}
			native := intInferTime(b, c, img)
			// The fastest of three proofs: the machine is shared.
			var best, bestCPU time.Duration
			for r := 0; r < 3; r++ {
				start, startCPU := time.Now(), cpuTime()
				proof, pub, err := c.Prove(pk, x)
				d, dCPU := time.Since(start), cpuTime()-startCPU
				if err != nil {
					b.Fatal(err)
				}
				if r == 0 || d < best {
					best = d
				}
				if r == 0 || dCPU < bestCPU {
					bestCPU = dCPU
				}
				if r == 0 && verify && v == Commit {
					const reps = 20
					start, startCPU := time.Now(), cpuTime()
					for k := 0; k < reps; k++ {
						if err := Verify(vk, proof, pub); err != nil {
							b.Fatal(err)
						}
					}
					vt, vCPU := time.Since(start)/reps, (cpuTime()-startCPU)/reps
					fmt.Printf("BENCH zk_%s_verify_ms %.2f ms cpu_ms=%.2f constraints=%d public_inputs=%d\n", name, ms(vt), ms(vCPU), c.CCS.GetNbConstraints(), 2+len(pub.Outputs))
				}
			}
			line := "prove_ms"
			if v == Plain {
				line = "plain_prove_ms"
			}
			fmt.Printf("BENCH zk_%s_%s %.1f ms cpu_ms=%.1f constraints=%d variant=%s float_infer_us=%.1f int_infer_us=%.1f ratio_to_float=%.0f\n",
				name, line, ms(best), ms(bestCPU), c.CCS.GetNbConstraints(), v, ms(fl)*1e3, ms(native)*1e3, float64(best)/float64(fl))
		}
	}
}

func BenchmarkZKLogRegProve(b *testing.B) { benchProve(b, "logreg", "logreg.onnx", false) }

func BenchmarkZKMLP784Prove(b *testing.B) { benchProve(b, "mlp784", "mlp784_56_10.onnx", true) }

func BenchmarkZKCNNProve(b *testing.B) { benchProve(b, "cnn", "cnn.onnx", false) }
