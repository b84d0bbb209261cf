package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/ciro-network/ciro-node"

// allowed lists, for each top-level folder, the top-level folders its non-test code may import.
// It is the project's arrow diagram: cmd → node → {consensus, market, p2p, storage,
// chain, compute}; consensus → contracts; market → contracts, compute, storage; simulation →
// contracts, market. internal/ helpers may be imported by anyone and import no top-level folder.
// node may also name contracts directly for its types: it reaches it through consensus anyway.
var allowed = map[string][]string{
	"cmd":        {"node", "simulation"},
	"node":       {"consensus", "contracts", "market", "p2p", "storage", "chain", "compute"},
	"consensus":  {"contracts"},
	"contracts":  {},
	"market":     {"contracts", "compute", "storage"},
	"compute":    {},
	"p2p":        {},
	"storage":    {},
	"chain":      {},
	"simulation": {"contracts", "market"},
	"internal":   {},
}

type goPackage struct {
	dir     string
	hasDoc  bool
	imports map[string]bool
}

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// loadPackages parses the non-test Go files of every package in the module.
func loadPackages(t *testing.T) []*goPackage {
	t.Helper()
	root := repoRoot(t)
	byDir := map[string]*goPackage{}
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			name := d.Name()
			if path != root && (strings.HasPrefix(name, ".") || name == "testdata" || name == "bin") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		p := byDir[rel]
		if p == nil {
			p = &goPackage{dir: filepath.ToSlash(rel), imports: map[string]bool{}}
			byDir[rel] = p
		}
		if f.Doc != nil && strings.TrimSpace(f.Doc.Text()) != "" {
			p.hasDoc = true
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			p.imports[path] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	pkgs := make([]*goPackage, 0, len(byDir))
	for _, p := range byDir {
		pkgs = append(pkgs, p)
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].dir < pkgs[j].dir })
	return pkgs
}

func topLevel(dir string) string {
	return strings.SplitN(dir, "/", 2)[0]
}

func TestImportArrows(t *testing.T) {
	pkgs := loadPackages(t)
	if len(pkgs) < 10 {
		t.Fatalf("found only %d packages; the walk is broken", len(pkgs))
	}
	for _, p := range pkgs {
		from := topLevel(p.dir)
		rules, known := allowed[from]
		if !known {
			t.Errorf("package %s lives in top-level folder %q, which the arrow diagram does not name", p.dir, from)
			continue
		}
		for imp := range p.imports {
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			to := topLevel(strings.TrimPrefix(imp, module+"/"))
			if to == from || (to == "internal" && from != "internal") {
				continue
			}
			ok := false
			for _, r := range rules {
				ok = ok || r == to
			}
			if !ok {
				t.Errorf("%s imports %s: the arrow %s → %s is not in the arrow diagram", p.dir, imp, from, to)
			}
		}
	}
}

func TestEveryPackageHasDocComment(t *testing.T) {
	for _, p := range loadPackages(t) {
		if !p.hasDoc {
			t.Errorf("package %s has no package doc comment: say what it owns and what it must not do", p.dir)
		}
	}
}

// TestRulesCatchViolations keeps the arrow test honest: a table entry that allowed everything
// would make TestImportArrows pass vacuously.
func TestRulesCatchViolations(t *testing.T) {
	forbidden := [][2]string{
		{"contracts", "storage"}, {"contracts", "node"}, {"contracts", "p2p"},
		{"consensus", "market"}, {"compute", "market"}, {"p2p", "consensus"}, {"market", "node"},
	}
	for _, f := range forbidden {
		for _, r := range allowed[f[0]] {
			if r == f[1] {
				t.Errorf("the rules allow %s → %s, which the arrow diagram forbids", f[0], f[1])
			}
		}
	}
}

// harness is the test harness: it runs `go build` and builds Docker images at run time, so the
// daemon must never link it. harnessImporters are the only packages whose non-test code may
// import it.
var (
	harness          = []string{module + "/node/devnet", module + "/node/nodetest"}
	harnessImporters = map[string]bool{"cmd/ciro-node": true, "node/nodetest": true, "node/devnet": true}
)

// harnessViolations lists the packages that import the harness without being allowed to.
func harnessViolations(pkgs []*goPackage) []string {
	var out []string
	for _, p := range pkgs {
		for _, h := range harness {
			if p.imports[h] && !harnessImporters[p.dir] {
				out = append(out, p.dir+" imports "+h)
			}
		}
	}
	return out
}

func TestDaemonDoesNotLinkTheHarness(t *testing.T) {
	for _, v := range harnessViolations(loadPackages(t)) {
		t.Errorf("%s: the devnet and test harness stay out of the daemon; only %v may import it", v, harnessImporters)
	}
}

// TestHarnessRuleCatchesViolations keeps the harness rule from passing vacuously.
func TestHarnessRuleCatchesViolations(t *testing.T) {
	daemon := &goPackage{dir: "node", imports: map[string]bool{module + "/node/devnet": true}}
	api := &goPackage{dir: "node/api", imports: map[string]bool{module + "/node/nodetest": true}}
	if got := harnessViolations([]*goPackage{daemon, api}); len(got) != 2 {
		t.Fatalf("violations %v, want the daemon's and the API's", got)
	}
}
