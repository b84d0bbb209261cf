package node

import (
	"bytes"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestConfigReference keeps docs/config.md generated from the config structs: their TOML
// names, doc comments and defaults. Run with UPDATE_DOCS=1 to rewrite it after a change.
func TestConfigReference(t *testing.T) {
	want := renderConfigReference(t)
	path := "../docs/config.md"
	if os.Getenv("UPDATE_DOCS") != "" {
		if err := os.WriteFile(path, want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run UPDATE_DOCS=1 go test ./node -run TestConfigReference)", err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("docs/config.md is out of date with node/config.go; run UPDATE_DOCS=1 go test ./node -run TestConfigReference")
	}
}

func renderConfigReference(t *testing.T) []byte {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "config.go", nil, parser.ParseComments)
	if err != nil {
		t.Fatal(err)
	}
	docs := map[string]map[string]string{} // struct name → field name → doc
	structDoc := map[string]string{}
	ast.Inspect(f, func(n ast.Node) bool {
		gd, ok := n.(*ast.GenDecl)
		if !ok || gd.Tok != token.TYPE {
			return true
		}
		for _, spec := range gd.Specs {
			ts := spec.(*ast.TypeSpec)
			st, ok := ts.Type.(*ast.StructType)
			if !ok {
				continue
			}
			structDoc[ts.Name.Name] = strings.TrimSpace(gd.Doc.Text())
			fields := map[string]string{}
			var pending string
			for _, fld := range st.Fields.List {
				doc := strings.TrimSpace(fld.Doc.Text())
				if doc == "" {
					doc = pending
				}
				pending = ""
				if len(fld.Names) > 1 || (doc != "" && fld.Doc != nil && len(fld.Names) == 1) {
					pending = doc // a comment above "A, B T" or a shared comment covers the next field too
				}
				for _, name := range fld.Names {
					fields[name.Name] = strings.Join(strings.Fields(doc), " ")
				}
			}
			docs[ts.Name.Name] = fields
		}
		return true
	})
	var b bytes.Buffer
	b.WriteString("# Configuration reference\n\n")
	b.WriteString("`HOME/config/config.toml`, written by `ciro-node init` or `ciro-node testnet`. Every key can be\n")
	b.WriteString("overridden by an environment variable `CIRO_<SECTION>_<KEY>` (upper case), e.g.\n")
	b.WriteString("`CIRO_CHAIN_TIMEOUT_COMMIT=500ms`. Lists in the environment are comma-separated.\n\n")
	b.WriteString("A key or section the node does not know is an error (code `unknown_config`) that names its\n")
	b.WriteString("line and the nearest known name, e.g. `line 23: unknown key \"timout_commit\" in [chain]; did\n")
	b.WriteString("you mean \"timeout_commit\"?`: a mistyped `[provder]` would otherwise turn the provider off\n")
	b.WriteString("without a word. `--allow-unknown-config` turns the error into a warning on stderr.\n\n")
	b.WriteString("Generated from `node/config.go` by `UPDATE_DOCS=1 go test ./node -run TestConfigReference`.\n")
	def := reflect.ValueOf(DefaultConfig())
	for i := 0; i < def.NumField(); i++ {
		sec := def.Type().Field(i)
		secName := sec.Tag.Get("toml")
		typeName := sec.Type.Name()
		fmt.Fprintf(&b, "\n## [%s]\n\n%s\n\n", secName, structDoc[typeName])
		b.WriteString("| key | default | environment | meaning |\n|---|---|---|---|\n")
		sv := def.Field(i)
		for j := 0; j < sv.NumField(); j++ {
			fld := sv.Type().Field(j)
			key := fld.Tag.Get("toml")
			val := fmt.Sprintf("%v", sv.Field(j).Interface())
			if d, ok := sv.Field(j).Interface().(Duration); ok {
				val = d.String()
			}
			if val == "" || val == "[]" {
				val = "(empty)"
			}
			env := "CIRO_" + strings.ToUpper(secName+"_"+key)
			fmt.Fprintf(&b, "| `%s` | `%s` | `%s` | %s |\n", key, val, env, docs[typeName][fld.Name])
		}
	}
	return b.Bytes()
}
