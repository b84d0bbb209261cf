package simulation

import "testing"

// FuzzParseFile feeds arbitrary bytes to the scenario parser: it returns a scenario or an
// error, and never panics.
func FuzzParseFile(f *testing.F) {
	f.Add([]byte(small))
	f.Add([]byte("duration = \"1h\"\n[[sweep]]\nkeys = [\"providers.0.count\"]\nvalues = [[1]]\n[[providers]]\n"))
	f.Add([]byte("duration = \"1h\"\n[[providers]]\nstake = { dist = \"choice\", values = [], weights = [1] }\n"))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := ParseFile("fuzz.toml", src)
		if err != nil {
			return
		}
		if _, err := file.Points(); err != nil {
			t.Fatalf("a file that validated has no points: %v", err)
		}
	})
}
