package proctest

import (
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sync"
	"testing"
)

// Binaries are Go commands built once, on first use, for the tests of one
// test binary. Declare them as a package variable and call Remove from
// TestMain after m.Run.
type Binaries struct {
	// Packages are the import paths of the commands, all built by the first
	// Path.
	Packages []string
	// Env is added to go build's environment: GOOS, GOARCH, GOARM and
	// CGO_ENABLED=0 cross-build for another target. Default none: this
	// machine's.
	Env []string

	once sync.Once
	dir  string
	err  error
}

// Path returns the path of the binary built from pkg (one of Packages),
// building them all the first time. Under -short it skips the test; a
// failed build fails it.
func (b *Binaries) Path(tb testing.TB, pkg string) string {
	tb.Helper()
	SkipShort(tb, "go build and the binaries it makes")
	b.once.Do(b.build)
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return filepath.Join(b.dir, path.Base(pkg))
}

func (b *Binaries) build() {
	if b.dir, b.err = os.MkdirTemp("", "proctest-bin-"); b.err != nil {
		return
	}
	cmd := exec.Command("go", append([]string{"build", "-trimpath", "-o", b.dir + "/"}, b.Packages...)...)
	if len(b.Env) > 0 {
		cmd.Env = append(os.Environ(), b.Env...)
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		b.err = fmt.Errorf("proctest: go build %v: %v\n%s", b.Packages, err, out)
	}
}

// Remove removes the binaries, if they were built.
func (b *Binaries) Remove() {
	if b.dir != "" {
		os.RemoveAll(b.dir)
	}
}
