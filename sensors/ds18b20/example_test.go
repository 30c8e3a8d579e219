package ds18b20_test

import (
	"context"
	"fmt"
	"log"
	"os"

	"github.com/tributary-iot/tributary/sensors/ds18b20"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

func Example() {
	// An emulated /sys/bus/w1/devices stands in for the Pi's: on a board,
	// leave Root empty.
	dir, err := os.MkdirTemp("", "w1")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tr, err := w1sim.New(dir)
	if err != nil {
		log.Fatal(err)
	}
	if err := tr.Add("28-0123456789ab", w1sim.Fixed(21.375), w1sim.AllFiles); err != nil {
		log.Fatal(err)
	}

	ids, err := ds18b20.Scan(dir)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ids)

	s, err := ds18b20.New(ds18b20.Options{Name: "tank", ID: ids[0], Root: dir})
	if err != nil {
		log.Fatal(err)
	}
	samples, err := s.Read(context.Background())
	if err != nil {
		log.Fatal(err)
	}
	for _, x := range samples {
		fmt.Printf("%s %s %.3f %s\n", s.Name(), x.Metric, x.Value, x.Unit)
	}
	// Output:
	// [28-0123456789ab]
	// tank temperature 21.375 Cel
}
