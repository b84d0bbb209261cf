package node

import (
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/BurntSushi/toml"
)

// CodeUnknownConfig is the stable code of a config file with keys or sections no setting
// reads.
const CodeUnknownConfig = "unknown_config"

// allowUnknownConfig turns unknown config keys from an error into a warning for the whole
// process: every command reads the home's config through LoadConfig, and the flag that allows
// them (--allow-unknown-config) is global.
var allowUnknownConfig atomic.Pointer[func(string)]

// AllowUnknownConfig makes LoadConfig accept keys and sections it does not know, passing each
// warning to warn instead of failing.
func AllowUnknownConfig(warn func(msg string)) { allowUnknownConfig.Store(&warn) }

// unknownConfig checks md's undecoded keys against the file's text: nil when there are none,
// otherwise an error naming each unknown section or key, its line and the nearest known name.
// With AllowUnknownConfig the problems go to its warn function and the result is nil.
func unknownConfig(path string, text []byte, md toml.MetaData) error {
	problems := unknownConfigProblems(text, md)
	if len(problems) == 0 {
		return nil
	}
	if warn := allowUnknownConfig.Load(); warn != nil {
		for _, p := range problems {
			(*warn)(fmt.Sprintf("config %s: %s; ignored (--allow-unknown-config)", path, p))
		}
		return nil
	}
	return clientErrorf(CodeUnknownConfig, "config %s: %s. Fix the spelling, or pass --allow-unknown-config to only warn",
		path, strings.Join(problems, "; "))
}

// unknownConfigProblems describes each unknown section once and each unknown key of a known
// section, in file order.
func unknownConfigProblems(text []byte, md toml.MetaData) []string {
	known := knownConfigKeys()
	lines := configLines(text)
	type problem struct {
		line int
		msg  string
	}
	var out []problem
	seenSection := map[string]bool{}
	for _, k := range md.Undecoded() {
		if len(k) == 0 {
			continue
		}
		section := k[0]
		keys, sectionKnown := known[section]
		switch {
		case len(k) == 1 && !sectionKnown && lines.section(section) == 0:
			// A top-level key, or a section given as a value.
			out = append(out, problem{lines.key("", section), fmt.Sprintf("line %d: unknown key %q%s", lines.key("", section), section, suggest(section, sectionNames(known), ""))})
		case !sectionKnown:
			if seenSection[section] {
				continue
			}
			seenSection[section] = true
			l := lines.section(section)
			out = append(out, problem{l, fmt.Sprintf("line %d: unknown section [%s]%s", l, section, suggest(section, sectionNames(known), "section "))})
		case len(k) >= 2:
			if _, ok := keys[k[1]]; ok {
				continue // a table inside a known key (e.g. a map's entry): its own parser judges it
			}
			l := lines.key(section, k[1])
			names := make([]string, 0, len(keys))
			for n := range keys {
				names = append(names, n)
			}
			out = append(out, problem{l, fmt.Sprintf("line %d: unknown key %q in [%s]%s", l, k[1], section, suggest(k[1], names, ""))})
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].line < out[j].line })
	msgs := make([]string, len(out))
	for i, p := range out {
		msgs[i] = p.msg
	}
	return msgs
}

// knownConfigKeys maps each section's TOML name to its keys' names.
func knownConfigKeys() map[string]map[string]bool {
	out := map[string]map[string]bool{}
	root := reflect.TypeOf(Config{})
	for i := 0; i < root.NumField(); i++ {
		f := root.Field(i)
		keys := map[string]bool{}
		for j := 0; j < f.Type.NumField(); j++ {
			if name := tomlName(f.Type.Field(j)); name != "" {
				keys[name] = true
			}
		}
		out[tomlName(f)] = keys
	}
	return out
}

func tomlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func sectionNames(known map[string]map[string]bool) []string {
	out := make([]string, 0, len(known))
	for n := range known {
		out = append(out, n)
	}
	return out
}

// suggest is `; did you mean "x"?` for the known name nearest to name, or "" when none is
// near enough to be a likely typo.
func suggest(name string, known []string, what string) string {
	sort.Strings(known)
	best, bestD := "", len(name)/2+2
	for _, k := range known {
		if d := editDistance(strings.ToLower(name), k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return fmt.Sprintf("; the known %snames are %s", what, strings.Join(known, ", "))
	}
	if what != "" {
		return fmt.Sprintf("; did you mean [%s]?", best)
	}
	return fmt.Sprintf("; did you mean %q?", best)
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// configLineIndex knows the line of each section header and key of a config file. The TOML
// decoder reports which keys it did not use but not where they are.
type configLineIndex struct {
	sections map[string]int
	keys     map[string]int // "section\x00key"
}

var (
	sectionLineRE = regexp.MustCompile(`^\s*\[\s*([A-Za-z0-9_\-"' .]+?)\s*\]`)
	keyLineRE     = regexp.MustCompile(`^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-]+)\s*=`)
)

func configLines(text []byte) configLineIndex {
	idx := configLineIndex{sections: map[string]int{}, keys: map[string]int{}}
	section := ""
	for i, line := range strings.Split(string(text), "\n") {
		if m := sectionLineRE.FindStringSubmatch(line); m != nil && !strings.HasPrefix(strings.TrimSpace(line), "[[") {
			section = strings.Trim(m[1], `"'`)
			if top, _, _ := strings.Cut(section, "."); top != "" {
				if _, ok := idx.sections[top]; !ok {
					idx.sections[top] = i + 1
				}
			}
			continue
		}
		if m := keyLineRE.FindStringSubmatch(line); m != nil {
			k := section + "\x00" + strings.Trim(m[1], `"'`)
			if _, ok := idx.keys[k]; !ok {
				idx.keys[k] = i + 1
			}
		}
	}
	return idx
}

func (x configLineIndex) section(name string) int { return x.sections[name] }
func (x configLineIndex) key(section, key string) int {
	return x.keys[section+"\x00"+key]
}
