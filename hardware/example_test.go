package hardware_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/tributary-iot/tributary/hardware"
)

func ExampleValidate() {
	errs := hardware.Validate([]hardware.SensorConfig{
		{Name: "air", Driver: "bme280", Address: "0x75"},
		{Name: "door", Driver: "gpio-input", Metric: "door"},
	}, 0, nil)
	for _, e := range errs {
		fmt.Println(e)
	}
	// Output:
	// sensors[0].address: 0x75: a bme280 answers only at 0x76, 0x77
	// sensors[1].pin: missing (a GPIO name such as GPIO17, BCM numbering)
}

// Open with Sim runs the real drivers over emulated chips and pins,
// registered under the configured names; Close gives the names back.
func ExampleOpen() {
	board, err := hardware.Open([]hardware.SensorConfig{
		{Name: "air", Driver: "bme280", Bus: "1", Address: "0x76"},
		{Name: "door", Driver: "gpio-input", Pin: "GPIO17", Metric: "door"},
	}, hardware.Options{Device: "example", Sim: true, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer board.Close()
	for _, s := range board.Sensors() {
		samples, err := s.Sensor.Read(context.Background())
		fmt.Println(s.Sensor.Name(), "simulated:", s.Simulated, "samples:", len(samples), "err:", err)
	}
	// Output:
	// air simulated: true samples: 3 err: <nil>
	// door simulated: true samples: 1 err: <nil>
}
