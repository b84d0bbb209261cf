package docker

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
)

// ScratchEntrypoint is where BuildScratchImage puts the binary, and the image's entrypoint.
const ScratchEntrypoint = "/app"

// BuildScratchImage makes a FROM-scratch image holding one static binary (the file at path
// binary, e.g. built with CGO_ENABLED=0) as its entrypoint, ScratchEntrypoint, with empty
// /input, /output and /tmp directories for the executor's mounts. The image's filesystem is a
// tar stream imported through the engine API, so no builder (BuildKit or the legacy one) is
// needed. tag names the image ("repo:tag"); empty leaves it untagged. It returns the image ID,
// "sha256:<64 hex>", which Options.Images and Job.Image accept. The binary must not need a
// dynamic loader or any other file: nothing else is in the image.
func BuildScratchImage(ctx context.Context, cli *client.Client, binary, tag string) (string, error) {
	body, err := os.ReadFile(binary)
	if err != nil {
		return "", fmt.Errorf("docker: scratch image: %w", err)
	}
	rootfs, err := scratchTar(body)
	if err != nil {
		return "", fmt.Errorf("docker: scratch image: %w", err)
	}
	rc, err := cli.ImageImport(ctx, image.ImportSource{Source: bytes.NewReader(rootfs), SourceName: "-"}, tag,
		image.ImportOptions{Changes: []string{`ENTRYPOINT ["` + ScratchEntrypoint + `"]`}})
	if err != nil {
		return "", fmt.Errorf("docker: scratch image: import: %w", err)
	}
	defer rc.Close()
	out, err := io.ReadAll(rc)
	if err != nil {
		return "", fmt.Errorf("docker: scratch image: import: %w", err)
	}
	// The engine answers with JSON progress lines; the last status is the image ID.
	var msg struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	for _, line := range bytes.Split(bytes.TrimSpace(out), []byte("\n")) {
		if json.Unmarshal(line, &msg) == nil && msg.Error != "" {
			return "", fmt.Errorf("docker: scratch image: import: %w", errors.New(msg.Error))
		}
	}
	id := strings.TrimSpace(msg.Status)
	if !IsDigest(id) || strings.Contains(id, "@") {
		return "", fmt.Errorf("docker: scratch image: unexpected import answer %q", out)
	}
	return id, nil
}

// scratchTar is the image's whole filesystem: the mount points and the binary.
func scratchTar(body []byte) ([]byte, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	epoch := time.Unix(0, 0)
	for _, d := range []string{"input/", "output/", "tmp/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Typeflag: tar.TypeDir, Mode: 0o755, ModTime: epoch}); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Name: strings.TrimPrefix(ScratchEntrypoint, "/"), Typeflag: tar.TypeReg, Mode: 0o755,
		Size: int64(len(body)), ModTime: epoch}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if _, err := tw.Write(body); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return tb.Bytes(), nil
}

// EngineAvailable reports whether a Docker engine answers a ping, using the client the
// environment configures (DOCKER_HOST, ...), within two seconds or ctx's deadline if sooner.
// Callers use it to skip Docker jobs on machines without an engine.
func EngineAvailable(ctx context.Context) bool {
	cli, err := client.NewClientWithOpts(client.FromEnv, client.WithAPIVersionNegotiation())
	if err != nil {
		return false
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = cli.Ping(ctx)
	return err == nil
}
