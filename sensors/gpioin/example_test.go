package gpioin_test

import (
	"context"
	"fmt"
	"log"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/gpioin"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

func Example() {
	// An emulated reed switch to ground stands in for the Pi's GPIO17: on
	// a board, host.Init() registers "GPIO17" and Open finds it the same
	// way.
	pin := gpiosim.New(gpiosim.Options{Name: "SIM_GPIO17_example", Wiring: gpiosim.ContactToGround})
	if err := pin.Register(); err != nil {
		log.Fatal(err)
	}
	defer pin.Unregister()

	door, err := gpioin.Open("SIM_GPIO17_example", gpioin.Options{Name: "front-door", Metric: sensors.MetricDoor})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	show := func() {
		ss, err := door.Read(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %s %v\n", door.Name(), ss[0].Metric, ss[0].Value)
	}
	show()
	pin.Set(gpio.High) // the magnet moves away: the contact opens
	show()
	// Output:
	// front-door door 0
	// front-door door 1
}
