// Command wordcount is the devnet's demo data-processing job for the WASM executor: a WASI
// preview 1 program (built with wasm.BuildGuest) that counts the lines, words and bytes of
// every regular file under /input, in sorted path order, and writes them with their totals to
// /output/counts.json. Its output depends only on the input files, so every run of the same
// module on the same input gives the same bytes.
//
// A word is a maximal run of bytes other than space, tab, CR and LF; a line is one LF.
package main

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"sort"

	"github.com/ciro-network/ciro-node/compute/wasm/internal/wcount"
)

// Counts are the totals of one file or of all of them.
type Counts struct {
	Lines int `json:"lines"`
	Words int `json:"words"`
	Bytes int `json:"bytes"`
}

// File is one input file's counts; Name is its path under /input, slash-separated.
type File struct {
	Name string `json:"name"`
	Counts
}

// Report is counts.json.
type Report struct {
	Files []File `json:"files"`
	Total Counts `json:"total"`
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "wordcount:", err)
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
	rep := Report{Files: []File{}}
	for _, n := range names {
		f, err := root.Open(n)
		if err != nil {
			return err
		}
		c, err := wcount.Count(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("reading %s: %w", path.Join("/input", n), err)
		}
		rep.Files = append(rep.Files, File{Name: n, Counts: Counts{Lines: c.Lines, Words: c.Words, Bytes: c.Bytes}})
		rep.Total.Lines += c.Lines
		rep.Total.Words += c.Words
		rep.Total.Bytes += c.Bytes
	}
	b, err := json.MarshalIndent(rep, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile("/output/counts.json", append(b, '\n'), 0o644); err != nil {
		return err
	}
	fmt.Printf("%d files, %d lines, %d words, %d bytes\n", len(rep.Files), rep.Total.Lines, rep.Total.Words, rep.Total.Bytes)
	return nil
}
