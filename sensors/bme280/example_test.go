package bme280_test

import (
	"context"
	"fmt"
	"log"

	"periph.io/x/conn/v3/i2c/i2creg"

	"github.com/tributary-iot/tributary/sensors/bme280"
	"github.com/tributary-iot/tributary/sim"
	chip "github.com/tributary-iot/tributary/sim/chip/bme280"
	"github.com/tributary-iot/tributary/sim/i2csim"
)

func Example() {
	// An emulated bus stands in for the Pi's: on a board, i2creg.Open("1")
	// opens /dev/i2c-1 the same way (after host.Init).
	sb := i2csim.NewBus("example-bme280")
	sb.Attach(0x76, chip.New(chip.BME280, chip.Fixed(sim.Conditions{Temperature: 21.5, Pressure: 1013.2, Humidity: 48})))
	if err := sb.Register(); err != nil {
		log.Fatal(err)
	}
	defer sb.Unregister()

	bus, err := i2creg.Open("example-bme280")
	if err != nil {
		log.Fatal(err)
	}
	defer bus.Close() // main owns the bus; the sensor only borrows it

	model, err := bme280.Identify(bus, 0x76)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(model)

	s, err := bme280.New(bus, bme280.Options{Name: "greenhouse", Addr: 0x76})
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
	// BME280
	// temperature 21.5 Cel
	// humidity 48.0 %
	// pressure 1013.2 hPa
}
