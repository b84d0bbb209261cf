package statedb

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

const crashChildEnv = "STATEDB_CRASH_CHILD_DIR"

// crashKeepRecent is the pruning window of the crash test, so that kills also
// land in the middle of pruning.
const crashKeepRecent = 3

func TestMain(m *testing.M) {
	if dir := os.Getenv(crashChildEnv); dir != "" {
		os.Exit(crashChild(dir))
	}
	os.Exit(m.Run())
}

// crashBlockSize is the number of writes of block h: every fourth block is
// big enough to go through the batch journal (with the small memtable the
// child uses), the others are ordinary.
func crashBlockSize(h int64) int {
	if h%4 == 0 {
		return 6000
	}
	return 300 + int(h%7)*50
}

// crashBlock applies block h's writes: deterministic in h alone, so a child
// that restarts at a height redoes exactly the same writes.
func crashBlock(s *Store, h int64) error {
	rng := rand.New(rand.NewPCG(uint64(h), 99))
	for range crashBlockSize(h) {
		k := fmt.Appendf(nil, "acct/%05d", rng.IntN(20000))
		if rng.IntN(6) == 0 {
			if err := s.Delete(k); err != nil {
				return err
			}
			continue
		}
		v := make([]byte, 16+rng.IntN(100))
		for i := range v {
			v[i] = byte(rng.IntN(256))
		}
		if err := s.Set(k, v); err != nil {
			return err
		}
	}
	return nil
}

// crashChild commits blocks forever in dir, printing "C <version> <hash>"
// after each commit, until it is killed.
func crashChild(dir string) int {
	memTableSizeOverride = 4 << 20 // txn limit ~614 KiB: big blocks use the journal
	s, err := Open(Options{Dir: dir, KeepRecent: crashKeepRecent})
	if err != nil {
		fmt.Fprintln(os.Stderr, "open:", err)
		return 2
	}
	fmt.Printf("O %d %x\n", s.Version(), s.LastHash())
	for {
		h := s.Version() + 1
		if err := crashBlock(s, h); err != nil {
			fmt.Fprintln(os.Stderr, "block:", err)
			return 2
		}
		hash, v, err := s.Commit()
		if err != nil {
			fmt.Fprintln(os.Stderr, "commit:", err)
			return 2
		}
		fmt.Printf("C %d %x\n", v, hash)
	}
}

// TestCrashRecovery kills a committing child process with SIGKILL at random
// moments and checks that every reopen lands on a committed version — the
// last one the child reported or the one it was committing — with exactly
// the hash a clean run gives that version.
func TestCrashRecovery(t *testing.T) {
	dir := t.TempDir()
	ref := openStore(t, Options{})
	expected := map[int64][]byte{0: ref.LastHash()}
	expect := func(v int64) []byte {
		for ref.Version() < v {
			must(t, crashBlock(ref, ref.Version()+1))
			h, ver := commit(t, ref)
			expected[ver] = h
		}
		return expected[v]
	}
	rng := rand.New(rand.NewPCG(2024, 1))
	var last int64
	kills := 12
	if testing.Short() {
		kills = 6
	}
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), crashChildEnv+"="+dir)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		must(t, err)
		must(t, cmd.Start())
		lines := make(chan string, 1000)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				lines <- sc.Text()
			}
			close(lines)
		}()
		// Kill it at a random moment: mostly after it committed at least one
		// block (commits slow down as the tree grows and under load), sometimes
		// anywhere after it opened.
		waitFor := "C"
		if rng.IntN(4) == 0 {
			waitFor = "O"
		}
		var seen []string
		deadline := time.After(2 * time.Minute)
	wait:
		for {
			select {
			case line, ok := <-lines:
				if !ok {
					t.Fatalf("run %d: child exited early; stderr: %s", i, stderr.String())
				}
				seen = append(seen, line)
				if strings.HasPrefix(line, waitFor) {
					break wait
				}
			case <-deadline:
				t.Fatalf("run %d: child made no progress", i)
			}
		}
		time.Sleep(time.Duration(rng.IntN(600)) * time.Millisecond)
		must(t, cmd.Process.Signal(syscall.SIGKILL))
		_ = cmd.Wait()
		for line := range lines {
			seen = append(seen, line)
		}
		reported := int64(-1)
		for _, line := range seen {
			f := strings.Fields(line)
			if len(f) != 3 {
				t.Fatalf("child output %q", line)
			}
			v, err := strconv.ParseInt(f[1], 10, 64)
			must(t, err)
			if want := hex.EncodeToString(expect(v)); f[2] != want {
				t.Fatalf("run %d: child %s version %d hash %s, clean run gives %s", i, f[0], v, f[2], want)
			}
			if f[0] == "O" && v != last {
				t.Fatalf("run %d: child opened at %d, last reopen was at %d", i, v, last)
			}
			reported = v
		}
		if reported < 0 {
			t.Fatalf("run %d: child reported nothing; stderr: %s", i, stderr.String())
		}
		if stderr.Len() > 0 {
			t.Fatalf("run %d: child stderr: %s", i, stderr.String())
		}

		memTableSizeOverride = 4 << 20
		s, err := Open(Options{Dir: dir, KeepRecent: crashKeepRecent})
		memTableSizeOverride = 0
		must(t, err)
		v := s.Version()
		if v != reported && v != reported+1 {
			t.Fatalf("run %d: reopened at version %d, child last reported %d", i, v, reported)
		}
		if !bytes.Equal(s.LastHash(), expect(v)) || !bytes.Equal(s.WorkingHash(), expect(v)) {
			t.Fatalf("run %d: version %d reopened with hash %x, want %x", i, v, s.LastHash(), expect(v))
		}
		// The kept versions are readable and provable.
		for old := max(1, v-crashKeepRecent+1); old <= v; old++ {
			val, proof, err := s.Prove([]byte("acct/00001"), old)
			must(t, err)
			must(t, VerifyProof(expect(old), []byte("acct/00001"), val, proof))
		}
		must(t, s.Close())
		t.Logf("run %d: killed after v%d reported, reopened at v%d", i, reported, v)
		last = v
	}
	if last < int64(kills) {
		t.Fatalf("only reached version %d: kills too early to test much", last)
	}
}

// TestCommitInterruptedInJournal stops a Commit whose batch goes through the
// journal just before and just after the journal commits, as a crash there
// would, and checks the reopened store is at the old or the new version with
// that version's exact hash.
func TestCommitInterruptedInJournal(t *testing.T) {
	for _, point := range []string{"journal-written", "journal-committed"} {
		t.Run(point, func(t *testing.T) {
			memTableSizeOverride = 4 << 20
			defer func() { memTableSizeOverride = 0 }()
			dir := t.TempDir()
			s, err := Open(Options{Dir: dir})
			must(t, err)
			must(t, crashBlock(s, 1))
			h1, _ := commit(t, s)
			must(t, crashBlock(s, 4)) // a big block: its commit is journaled
			h2 := s.WorkingHash()
			crash := fmt.Errorf("simulated crash at %s", point)
			s.db.testHook = func(p string) error {
				if p == point {
					return crash
				}
				return nil
			}
			if _, _, err := s.Commit(); err == nil {
				t.Fatal("interrupted Commit reported success")
			}
			if s.db.journaled.Load() == 0 && point == "journal-committed" {
				t.Fatal("the commit did not go through the journal")
			}
			_ = s.Close()

			s, err = Open(Options{Dir: dir})
			must(t, err)
			defer s.Close()
			wantV, wantH := int64(1), h1
			if point == "journal-committed" {
				wantV, wantH = 2, h2
			}
			if s.Version() != wantV || !bytes.Equal(s.LastHash(), wantH) {
				t.Fatalf("reopened at v%d %x, want v%d %x", s.Version(), s.LastHash(), wantV, wantH)
			}
			// The store goes on normally from there.
			must(t, crashBlock(s, wantV+1))
			if _, v := commit(t, s); v != wantV+1 {
				t.Fatalf("next commit gave v%d", v)
			}
		})
	}
}
