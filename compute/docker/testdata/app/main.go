// Command app is the container test program of compute/docker: built static (CGO_ENABLED=0)
// once per test run and imported as a FROM-scratch image. Its first argument picks the
// behaviour under test.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	if len(os.Args) < 2 {
		os.Exit(64)
	}
	switch os.Args[1] {
	case "true":
	case "wc":
		wc()
	case "alloc":
		var keep [][]byte
		for i := 1; ; i++ {
			b := make([]byte, 16<<20)
			for j := range b {
				b[j] = byte(j)
			}
			keep = append(keep, b)
			fmt.Printf("allocated %d MiB\n", i*16)
		}
	case "net":
		for _, addr := range []string{"1.1.1.1:80", "172.17.0.1:80", "[2606:4700:4700::1111]:80"} {
			c, err := net.DialTimeout("tcp", addr, 2*time.Second)
			if err == nil {
				c.Close()
				fmt.Println("reached", addr)
				os.Exit(0)
			}
			fmt.Println("dial", addr, "failed:", err)
		}
		os.Exit(7)
	case "sleep":
		time.Sleep(time.Hour)
	case "rootfs":
		if err := os.WriteFile("/evil", []byte("x"), 0o644); err == nil {
			fmt.Println("rootfs writable")
			os.Exit(1)
		}
		if err := os.WriteFile("/input/evil", []byte("x"), 0o644); err == nil {
			fmt.Println("input writable")
			os.Exit(1)
		}
		fmt.Println("read-only as expected")
	default:
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
	var b strings.Builder
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		words := 0
		s := bufio.NewScanner(f)
		s.Split(bufio.ScanWords)
		for s.Scan() {
			words++
		}
		f.Close()
		fmt.Fprintf(&b, "%d %s\n", words, n)
	}
	if err := os.WriteFile("/output/words.txt", []byte(b.String()), 0o644); err != nil {
		fmt.Println("write output:", err)
		os.Exit(1)
	}
	fmt.Println("done")
}
