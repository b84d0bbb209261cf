package node

import (
	"errors"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/ciro-network/ciro-node/compute"
)

var (
	testDigest  = "sha256:" + strings.Repeat("ab", 32)
	testDigest2 = "registry.example/onnx@sha256:" + strings.Repeat("cd", 32)
)

func TestDockerImagesConfig(t *testing.T) {
	c := DefaultConfig()
	c.Provider.Enabled = true
	// Lists in the environment are comma-separated; image references hold no comma.
	if err := ApplyEnv(&c, []string{"CIRO_PROVIDER_DOCKER_IMAGES=PyTorch=" + testDigest + ", ONNX=" + testDigest2}); err != nil {
		t.Fatal(err)
	}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	images, err := c.Provider.Images()
	if err != nil {
		t.Fatal(err)
	}
	if len(images) != 2 || images[compute.PyTorch] != testDigest || images[compute.ONNX] != testDigest2 {
		t.Fatalf("images %v", images)
	}
	for name, tc := range map[string]struct {
		entry string
		want  string
		is    error
	}{
		"no equals":      {"PyTorch", `"PyTorch" is not framework=image`, nil},
		"no framework":   {"=" + testDigest, "is not framework=image", nil},
		"no image":       {"PyTorch=", "is not framework=image", nil},
		"tag, no digest": {"PyTorch=pytorch/pytorch:latest", "name the image by digest", compute.ErrImageNotDigest},
		"wasi":           {"wasi=" + testDigest, "wasi jobs never run in Docker", nil},
		"model runtime":  {"ciro-onnx-int=" + testDigest, "ciro-onnx-int jobs never run in Docker", nil},
	} {
		// Checked with the provider off too: the verifier's Docker executor reads the map.
		for _, enabled := range []bool{false, true} {
			bad := DefaultConfig()
			bad.Provider.Enabled = enabled
			bad.Provider.DockerImages = []string{tc.entry}
			err := bad.Validate()
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "docker_images") {
				t.Errorf("%s (provider enabled %t): got %v, want %q", name, enabled, err, tc.want)
			}
			if tc.is != nil && !errors.Is(err, tc.is) {
				t.Errorf("%s: %v does not wrap %v", name, err, tc.is)
			}
		}
	}
	dup := DefaultConfig()
	dup.Provider.DockerImages = []string{"PyTorch=" + testDigest, "PyTorch=" + testDigest2}
	if err := dup.Validate(); err == nil || !strings.Contains(err.Error(), `framework "PyTorch" is mapped twice`) {
		t.Errorf("a framework mapped twice: %v", err)
	}
	many := DefaultConfig()
	many.Provider.Enabled = true
	for _, f := range []string{"a", "b", "c", "d", "e", "f", "g"} {
		many.Provider.DockerImages = append(many.Provider.DockerImages, f+"="+testDigest)
	}
	if err := many.Validate(); err == nil || !strings.Contains(err.Error(), "declare 9 frameworks") {
		t.Errorf("nine frameworks: %v", err)
	}
	long := DefaultConfig()
	long.Provider.Enabled = true
	long.Provider.DockerImages = []string{strings.Repeat("x", 33) + "=" + testDigest}
	if err := long.Validate(); err == nil || !strings.Contains(err.Error(), "longer than the 32 bytes") {
		t.Errorf("a 33-byte framework name: %v", err)
	}
}

// TestDeclaredFrameworks: frameworks mapped to images are declared while the Docker executor
// runs, and only then.
func TestDeclaredFrameworks(t *testing.T) {
	c := DefaultConfig()
	c.Provider.Frameworks = []string{"wasi", "FFmpeg"}
	c.Provider.DockerImages = []string{"PyTorch=" + testDigest, "FFmpeg=" + testDigest2}
	env := &agentEnv{cfg: c, log: slog.New(slog.DiscardHandler)}

	withDocker := map[compute.ExecutorKind]compute.Executor{compute.ExecWASM: nil, compute.ExecDocker: nil}
	got, err := env.declaredFrameworks(withDocker)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"FFmpeg", "PyTorch", "ciro-onnx-int", "wasi"}; !slices.Equal(got, want) {
		t.Fatalf("with Docker: %v, want %v", got, want)
	}
	got, err = env.declaredFrameworks(map[compute.ExecutorKind]compute.Executor{compute.ExecWASM: nil})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"FFmpeg", "ciro-onnx-int", "wasi"}; !slices.Equal(got, want) {
		t.Fatalf("without Docker: %v, want %v", got, want)
	}
}
