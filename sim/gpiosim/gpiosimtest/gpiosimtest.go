// Package gpiosimtest puts emulated GPIO pins in reach of tests through
// periph's gpioreg, as production code reaches a Raspberry Pi's pins.
package gpiosimtest

import (
	"strings"
	"testing"

	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// Register returns an emulated pin made with opt and registered with
// gpioreg until t ends; a failure to register fails t. opt.Name defaults to
// one made of t's name ("SIM_TestDoor_open").
func Register(t testing.TB, opt gpiosim.Options) *gpiosim.Pin {
	t.Helper()
	if opt.Name == "" {
		opt.Name = "SIM_" + strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())
	}
	p := gpiosim.New(opt)
	if err := p.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Unregister(); err != nil {
			t.Error(err)
		}
	})
	return p
}
