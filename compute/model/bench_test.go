package model

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

var printModel sync.Once

// BenchmarkModelMLPInfer times one inference of the 784-32-10 MLP (softmax and argmax
// included) on the integer runtime, against the float64 reference of the same network.
func BenchmarkModelMLPInfer(b *testing.B) {
	const reps = 300
	mb, w1, b1, w2, b2 := mlp(1)
	m, err := Load(mb)
	if err != nil {
		b.Fatal(err)
	}
	px := digit(100)
	x := map[string]Tensor{"x": quantInput(px)}
	for i := 0; i < b.N; i++ {
		start := time.Now()
		for r := 0; r < reps; r++ {
			if _, err := m.Run(context.Background(), x, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
		intT := time.Since(start) / reps
		start = time.Now()
		for r := 0; r < reps; r++ {
			floatMLP(px, w1, b1, w2, b2)
		}
		floatT := time.Since(start) / reps
		printModel.Do(func() {
			fmt.Printf("BENCH model_mlp_infer_us %.1f float64_ref_us=%.1f\n",
				float64(intT.Nanoseconds())/1e3, float64(floatT.Nanoseconds())/1e3)
		})
	}
}
