// Package buildinfo says which version of Tributary a binary is.
package buildinfo

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time: -ldflags "-X github.com/tributary-iot/tributary/internal/buildinfo.Version=v1.2.3".
// Otherwise it is taken from the module build info, or "devel".
var Version = ""

// Commit is set at link time (-X github.com/tributary-iot/tributary/internal/buildinfo.Commit=<rev>)
// where the build has no VCS information (a source tarball, a container
// build without .git). Otherwise it is the vcs.revision the go command
// recorded, or "unknown".
var Commit = ""

// Info is what a binary knows of its build.
type Info struct {
	Version   string // "v1.2.3", or "devel"
	Commit    string // the full VCS revision (with "-dirty" for a modified tree), or "unknown"
	GoVersion string // runtime.Version()
}

// Read returns the build's Info.
func Read() Info {
	in := Info{Version: Version, Commit: Commit, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if in.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			in.Version = bi.Main.Version
		}
		rev, dirty := "", false
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				dirty = s.Value == "true"
			}
		}
		if in.Commit == "" && rev != "" {
			in.Commit = rev
			if dirty {
				in.Commit += "-dirty"
			}
		}
	}
	if in.Version == "" {
		in.Version = "devel"
	}
	if in.Commit == "" {
		in.Commit = "unknown"
	}
	return in
}

// String is one line for --version: "tributary edge v1.2.3 (go1.26 linux/arm, rev abc1234)".
func String(binary string) string {
	in := Read()
	rev := ""
	if in.Commit != "unknown" {
		rev = ", rev " + in.Commit[:min(7, len(in.Commit))]
	}
	return fmt.Sprintf("tributary %s %s (%s %s/%s%s)", binary, in.Version, in.GoVersion, runtime.GOOS, runtime.GOARCH, rev)
}
