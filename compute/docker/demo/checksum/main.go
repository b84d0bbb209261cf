// Command checksum is the devnet's demo job for the Docker executor: a static program (built
// with CGO_ENABLED=0 and wrapped by docker.BuildScratchImage) that hashes every regular file
// under /input, in sorted path order, and writes /output/sha256.txt in the format of
// sha256sum: "<64 hex>  <path under /input>" per line. Its output depends only on the input
// files, so every run on the same input gives the same bytes.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"sort"
	"strings"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "checksum:", err)
		os.Exit(1)
	}
}

func run() error {
	root := os.DirFS("/input")
	var names []string
	err := fs.WalkDir(root, ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	if err != nil {
		return fmt.Errorf("listing /input: %w", err)
	}
	sort.Strings(names)
	var out strings.Builder
	for _, n := range names {
		sum, err := hashFile(root, n)
		if err != nil {
			return fmt.Errorf("reading /input/%s: %w", n, err)
		}
		fmt.Fprintf(&out, "%s  %s\n", sum, n)
	}
	if err := os.WriteFile("/output/sha256.txt", []byte(out.String()), 0o644); err != nil {
		return err
	}
	fmt.Printf("hashed %d files\n", len(names))
	return nil
}

func hashFile(root fs.FS, name string) (string, error) {
	f, err := root.Open(name)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
