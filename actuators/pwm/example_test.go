package pwm_test

import (
	"context"
	"fmt"

	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/sim/gpiosim"
)

// A 4-pin PC fan at 40 %: PWM at 25 kHz. On a Pi the pin comes from
// gpioreg.ByName("GPIO18") after host.Init.
func Example() {
	pin := gpiosim.New(gpiosim.Options{Name: "SIM_GPIO18"})
	fan, err := pwm.New(pin, pwm.Options{Name: "fan"})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := fan.Set(context.Background(), 40); err != nil {
		fmt.Println(err)
		return
	}
	o := pin.Output()
	fmt.Println(o.Duty, o.Frequency, fan.Value())
	// Output:
	// 40% 25kHz 40
}
