// Package wcount counts lines, words and bytes. It exists so that the WASM test guest and the
// native benchmark baseline run the very same Go function; it must not import anything beyond
// the standard library, since it is compiled to wasip1 too.
package wcount

import "io"

// Counts are the totals of one input.
type Counts struct {
	Lines, Words, Bytes int
}

// Count reads r to the end. A word is a maximal run of bytes other than space, tab, CR and LF.
func Count(r io.Reader) (Counts, error) {
	var c Counts
	buf := make([]byte, 32<<10)
	inWord := false
	for {
		n, err := r.Read(buf)
		for _, b := range buf[:n] {
			c.Bytes++
			switch b {
			case '\n':
				c.Lines++
				inWord = false
			case ' ', '\t', '\r':
				inWord = false
			default:
				if !inWord {
					c.Words++
					inWord = true
				}
			}
		}
		if err == io.EOF {
			return c, nil
		}
		if err != nil {
			return c, err
		}
	}
}
