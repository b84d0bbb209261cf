// Command guest is the WASI test program of compute/wasm: one binary, built once per test run
// with GOOS=wasip1 GOARCH=wasm, whose first argument picks the behaviour under test.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/ciro-network/ciro-node/compute/wasm/internal/wcount"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: guest wc|loop|alloc|probe|exit")
		os.Exit(64)
	}
	switch os.Args[1] {
	case "wc":
		wc()
	case "loop":
		n := 0
		for {
			n++
		}
	case "alloc":
		var keep [][]byte
		for i := 1; ; i++ {
			b := make([]byte, 8<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
			fmt.Printf("allocated %d MiB\n", i*8)
		}
	case "probe":
		probe()
	case "exit":
		fmt.Println("exiting with 3")
		os.Exit(3)
	case "write":
		// Writes more output than a small limit allows.
		b := make([]byte, 1<<20)
		for i := 0; i < 4; i++ {
			os.WriteFile(filepath.Join("/output", fmt.Sprintf("big%d", i)), b, 0o644)
		}
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", os.Args[1])
		os.Exit(64)
	}
}

func wc() {
	var names []string
	filepath.WalkDir("/input", func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			names = append(names, p)
		}
		return err
	})
	sort.Strings(names)
	out, err := os.Create("/output/counts.txt")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	var total wcount.Counts
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c, err := wcount.Count(f)
		f.Close()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		total.Lines += c.Lines
		total.Words += c.Words
		total.Bytes += c.Bytes
		fmt.Fprintf(out, "%d %d %d %s\n", c.Lines, c.Words, c.Bytes, n)
	}
	fmt.Fprintf(out, "%d %d %d total\n", total.Lines, total.Words, total.Bytes)
	if err := out.Close(); err != nil {
		os.Exit(1)
	}
	// Writing to the read-only input must fail.
	if err := os.WriteFile("/input/evil", []byte("x"), 0o644); err == nil {
		fmt.Println("input is writable")
		os.Exit(5)
	}
	fmt.Println("words", total.Words)
}

func probe() {
	t0 := time.Now()
	time.Sleep(2 * time.Second)
	r := make([]byte, 16)
	rand.Read(r)
	_, dialErr := net.Dial("tcp", "1.1.1.1:80")
	report := fmt.Sprintf("now=%s\nslept=%s\nrand=%s\ndial_error=%v\n",
		t0.UTC().Format(time.RFC3339Nano), time.Since(t0), hex.EncodeToString(r), dialErr != nil)
	fmt.Print(report)
	fmt.Fprintln(os.Stderr, "dial:", dialErr)
	os.WriteFile("/output/probe.txt", []byte(report), 0o644)
}
