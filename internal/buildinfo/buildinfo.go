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

// String is one line for --version: "tributary edge v1.2.3 (go1.26 linux/arm, rev abc1234)".
func String(binary string) string {
	v, rev := Version, ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		if v == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			v = bi.Main.Version
		}
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 7 {
				rev = ", rev " + s.Value[:7]
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	return fmt.Sprintf("tributary %s %s (%s %s/%s%s)", binary, v, runtime.Version(), runtime.GOOS, runtime.GOARCH, rev)
}
