package wasm

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// BuildGuest compiles the Go main package pkgDir into a WASI preview 1 module written to out,
// for jobs of this executor that ship no files (the devnet's demo, the tests). It runs the Go
// toolchain ("go" on PATH; present wherever `make devnet` runs) as
//
//	GOOS=wasip1 GOARCH=wasm CGO_ENABLED=0 go build -trimpath -buildvcs=false -o out pkgDir
//
// in the root of the module that `go env GOMOD` reports for the current directory, so a
// relative pkgDir such as "./compute/wasm/demo/wordcount" is relative to that root; an import
// path or an absolute directory works too. A relative out is relative to the current directory.
// Without VCS stamping the module's bytes depend only on the source and the toolchain.
// A missing toolchain gives an error wrapping exec.ErrNotFound.
func BuildGuest(ctx context.Context, pkgDir, out string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("wasm: build %s: %w", pkgDir, err)
	}
	gomod, err := goCmd(ctx, "", nil, "env", "GOMOD")
	if err != nil {
		return fmt.Errorf("wasm: build %s: finding the module root: %w", pkgDir, err)
	}
	gomod = strings.TrimSpace(gomod)
	if gomod == "" || gomod == os.DevNull {
		return fmt.Errorf("wasm: build %s: the current directory is not inside a Go module", pkgDir)
	}
	env := []string{"GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0"}
	if _, err := goCmd(ctx, filepath.Dir(gomod), env, "build", "-trimpath", "-buildvcs=false", "-o", out, pkgDir); err != nil {
		return fmt.Errorf("wasm: build %s: %w", pkgDir, err)
	}
	return nil
}

// goCmd runs the go command in dir (empty: the current directory) with extra environment and
// returns its standard output; a failure's error carries the command's standard error.
func goCmd(ctx context.Context, dir string, env []string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if msg := strings.TrimSpace(stderr.String()); msg != "" && !errors.Is(err, exec.ErrNotFound) {
			return "", fmt.Errorf("go %s: %w\n%s", args[0], err, msg)
		}
		return "", fmt.Errorf("go %s: %w", args[0], err)
	}
	return stdout.String(), nil
}
