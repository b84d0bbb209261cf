// Command gen trains the MNIST models of compute/zkml's tests and benchmarks on the training
// set and writes them as ONNX files, with compute/model's writer:
//
//	go run ./compute/zkml/internal/mnist/gen -out compute/zkml/testdata
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/ciro-network/ciro-node/compute/zkml/internal/mnist"
)

func main() {
	out := flag.String("out", "compute/zkml/testdata", "directory for the .onnx files")
	flag.Parse()
	train, err := mnist.Train()
	if err != nil {
		log.Fatal(err)
	}
	models := []struct {
		name  string
		build func() []byte
	}{
		{"logreg.onnx", func() []byte {
			return mnist.TrainMLP(train, 0, mnist.TrainConfig{Epochs: 3, Batch: 32, Rate: 0.1, Seed: 1})
		}},
		{"mlp784_56_10.onnx", func() []byte {
			return mnist.TrainMLP(train, 56, mnist.TrainConfig{Epochs: 4, Batch: 32, Rate: 0.1, Seed: 2})
		}},
		{"cnn.onnx", func() []byte {
			return mnist.TrainCNN(train, mnist.TrainConfig{Epochs: 3, Batch: 32, Rate: 0.05, Seed: 3})
		}},
	}
	for _, m := range models {
		if len(flag.Args()) > 0 && flag.Arg(0) != m.name {
			continue
		}
		b := m.build()
		if err := os.WriteFile(filepath.Join(*out, m.name), b, 0o644); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s: %d bytes\n", m.name, len(b))
	}
}
