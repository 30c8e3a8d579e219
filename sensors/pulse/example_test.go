package pulse_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/tributary-iot/tributary/sensors/pulse"
	"github.com/tributary-iot/tributary/sim"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

func Example() {
	// An emulated tipping-bucket rain gauge stands in for a reed switch on
	// the Pi's GPIO6, on a virtual clock so that the example runs at once.
	clock := gpiosim.NewClock(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC))
	pin := gpiosim.New(gpiosim.Options{Name: "SIM_GPIO6_example", Wiring: gpiosim.ContactToGround, Clock: clock})
	if err := pin.Register(); err != nil {
		log.Fatal(err)
	}
	defer pin.Unregister()

	rain, err := pulse.Open("SIM_GPIO6_example", pulse.Options{
		Name: "rain", Scale: sim.RainTip, Unit: "mm", RatePer: time.Hour, Now: clock.Now,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer rain.Close()

	// Ten tips about a minute apart (plus 4 ms of bounce each), each
	// closing the switch for 100 ms: 2.794 mm in 600.04 s.
	tip := gpiosim.PulseOptions{Width: 100 * time.Millisecond, Gap: time.Minute - 100*time.Millisecond, Bounces: 2, BounceGap: time.Millisecond}
	if err := pin.Pulse(context.Background(), 10, tip); err != nil {
		log.Fatal(err)
	}
	ss, err := rain.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range ss {
		fmt.Printf("%s %.3f %s\n", x.Metric, x.Value, x.Unit)
	}
	// Output:
	// count 2.794 mm
	// rate 16.763 mm/h
}
