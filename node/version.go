package node

import "runtime/debug"

// version is set at link time by the Makefile:
//
//	go build -ldflags "-X github.com/ciro-network/ciro-node/node.version=$(git describe --tags --always --dirty)"
//
// A plain `go build` or `go install` leaves it empty, and Version reads the build info.
var version string

// Version is this binary's version: the one the build stamped with -ldflags, else the module
// version `go install` recorded, else the VCS revision `go build` recorded in a checkout
// ("devel+<rev>[-dirty]"), else "devel".
func Version() string {
	if version != "" {
		return version
	}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "devel"
	}
	return versionOf(bi)
}

func versionOf(bi *debug.BuildInfo) string {
	if v := bi.Main.Version; v != "" && v != "(devel)" {
		return v
	}
	var rev, dirty string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				dirty = "-dirty"
			}
		}
	}
	if rev == "" {
		return "devel"
	}
	return "devel+" + rev[:min(len(rev), 12)] + dirty
}
