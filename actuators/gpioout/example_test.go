package gpioout_test

import (
	"context"
	"fmt"

	"github.com/tributary-iot/tributary/actuators/gpioout"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// An active-low relay board: off at open (pin High), on with the pin Low.
// On a Pi the pin comes from gpioreg.ByName("GPIO23") after host.Init.
func Example() {
	pin := gpiosim.New(gpiosim.Options{Name: "SIM_GPIO23"})
	heater, err := gpioout.New(pin, gpioout.Options{Name: "heater", ActiveLow: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("at open:", pin.Level())
	if err := heater.Set(context.Background(), 1); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("on:", pin.Level(), heater.Value())
	// Output:
	// at open: High
	// on: Low 1
}
