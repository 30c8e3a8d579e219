package buildinfo

import (
	"runtime"
	"strings"
	"testing"
)

func TestRead(t *testing.T) {
	in := Read()
	if in.Version == "" || in.Commit == "" || in.GoVersion != runtime.Version() {
		t.Errorf("Read() = %+v", in)
	}
	// Link-time values win over the module's build info.
	defer func(v, c string) { Version, Commit = v, c }(Version, Commit)
	Version, Commit = "v1.2.3", "0123456789abcdef"
	if in := Read(); in.Version != "v1.2.3" || in.Commit != "0123456789abcdef" {
		t.Errorf("with -X: Read() = %+v", in)
	}
	if s := String("edge"); !strings.HasPrefix(s, "tributary edge v1.2.3 (go") || !strings.HasSuffix(s, ", rev 0123456)") {
		t.Errorf("String = %q", s)
	}
}
