// Command guest is the WASI job of the market tests: it copies every file under /input to
// /output with its bytes reversed and writes a summary, so that its output is a pure function
// of its input.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

func main() {
	var names []string
	filepath.WalkDir("/input", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return nil
	})
	sort.Strings(names)
	total := 0
	for _, p := range names {
		b, err := os.ReadFile(p)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		for i, j := 0, len(b)-1; i < j; i, j = i+1, j-1 {
			b[i], b[j] = b[j], b[i]
		}
		rel, _ := filepath.Rel("/input", p)
		out := filepath.Join("/output", rel+".rev")
		os.MkdirAll(filepath.Dir(out), 0o755)
		if err := os.WriteFile(out, b, 0o644); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		total += len(b)
	}
	summary := fmt.Sprintf("files %d bytes %d args %v\n", len(names), total, os.Args[1:])
	if err := os.WriteFile("/output/summary.txt", []byte(summary), 0o644); err != nil {
		os.Exit(1)
	}
	fmt.Print(summary)
}
