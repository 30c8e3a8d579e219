//go:build armsmoke

package e2e

import (
	"os/exec"
	"testing"

	"github.com/tributary-iot/tributary/internal/proctest"
)

// armTarget is one Raspberry Pi target of `make cross`: the edge agent
// cross-built for it (once per run, whichever test asks first) and the
// qemu-user command that runs it (armv6 on an emulated ARM1176: Pi Zero and 1).
type armTarget struct {
	name string
	qemu []string
	edge *proctest.Binaries
}

func newARMTarget(name, goarch, goarm string, qemu ...string) armTarget {
	return armTarget{name: name, qemu: qemu, edge: &proctest.Binaries{Packages: []string{modulePath + "/cmd/edge"},
		Env: []string{"CGO_ENABLED=0", "GOOS=linux", "GOARCH=" + goarch, "GOARM=" + goarm}}}
}

var armTargets = []armTarget{
	newARMTarget("armv6", "arm", "6", "qemu-arm", "-cpu", "arm1176"),
	newARMTarget("armv7", "arm", "7", "qemu-arm", "-cpu", "cortex-a7"),
	newARMTarget("arm64", "arm64", "", "qemu-aarch64"),
}

// armEdge returns the command line that runs tg's edge binary under
// qemu-user, failing the test if qemu-user is missing: in CI that is a
// missing dependency, never a skip.
func armEdge(t *testing.T, tg armTarget) []string {
	t.Helper()
	qemu, err := exec.LookPath(tg.qemu[0])
	if err != nil {
		t.Fatalf("%s not found: install Debian's qemu-user (make deps): %v", tg.qemu[0], err)
	}
	bin := tg.edge.Path(t, modulePath+"/cmd/edge")
	otherBins.Lock()
	otherBins.built = append(otherBins.built, tg.edge) // Remove is idempotent
	otherBins.Unlock()
	return append(append([]string{qemu}, tg.qemu[1:]...), bin)
}
