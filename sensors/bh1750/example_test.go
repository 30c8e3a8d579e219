package bh1750_test

import (
	"context"
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sensors/bh1750"
	chip "github.com/tributary-iot/tributary/sim/chip/bh1750"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

func Example() {
	// An emulated bus stands in for the Pi's: on a board, i2creg.Open("1")
	// opens /dev/i2c-1 the same way (after host.Init).
	sb := i2csim.NewBus("example-bh1750")
	sb.Attach(0x23, chip.New(chip.Fixed(432.1)))
	if err := sb.Register(); err != nil {
		log.Fatal(err)
	}
	defer sb.Unregister()

	bus, err := i2creg.Open("example-bh1750")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close() // main owns the bus; the sensor only borrows it

	model, err := bh1750.Identify(bus, 0x23)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(model)

	s, err := bh1750.New(bus, bh1750.Options{Name: "window", Resolution: bh1750.High2})
	if err != nil {
		log.Fatal(err)
	}
	defer s.Close()
	samples, err := s.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range samples {
		fmt.Printf("%s %.1f %s\n", x.Metric, x.Value, x.Unit)
	}
	// Output:
	// BH1750
	// illuminance 432.1 lx
}
