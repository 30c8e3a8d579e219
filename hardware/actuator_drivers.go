package hardware

import (
	"sort"
	"strings"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/actuators/gpioout"
	"github.com/tributary-iot/tributary/actuators/pwm"
	"github.com/tributary-iot/tributary/command"
)

// An ActuatorDriver is one kind of actuator a configuration can name (its
// driver key).
type ActuatorDriver struct {
	Name string
	Kind string // command.KindSwitch or command.KindLevel
	Doc  string // one line, for --help and edge check

	keys        []string         // the keys it takes besides those of every actuator
	defaultFreq physic.Frequency // pwm: the frequency when none is written
	// open drives the pin through the real driver; it puts the device in
	// its off state at once.
	open func(p gpio.PinOut, sp actSpec) (actuators.Output, error)
}

// actuatorDrivers is every actuator driver, in one table.
var actuatorDrivers = []ActuatorDriver{
	{Name: "relay", Kind: command.KindSwitch,
		Doc: "on/off on a GPIO pin: a relay board, a valve, an LED, a buzzer (active_low for most relay boards)",
		open: func(p gpio.PinOut, sp actSpec) (actuators.Output, error) {
			return gpioout.New(p, gpioout.Options{Name: sp.name, ActiveLow: sp.activeLow})
		}},
	{Name: "pwm", Kind: command.KindLevel, keys: []string{"min", "max", "frequency"}, defaultFreq: pwm.DefaultFrequency,
		Doc: "a level 0..100 % by PWM on a GPIO pin (GPIO12/13/18/19): a 4-pin fan at 25kHz, a dimmer at 1kHz",
		open: func(p gpio.PinOut, sp actSpec) (actuators.Output, error) {
			return pwm.New(p, pwm.Options{Name: sp.name, Frequency: sp.freq, Invert: sp.activeLow})
		}},
}

// ActuatorDrivers returns every actuator driver, in the order of the table.
func ActuatorDrivers() []ActuatorDriver { return append([]ActuatorDriver(nil), actuatorDrivers...) }

func lookupActuatorDriver(name string) (ActuatorDriver, bool) {
	for _, d := range actuatorDrivers {
		if d.Name == name {
			return d, true
		}
	}
	return ActuatorDriver{}, false
}

func actuatorDriverNames() string {
	var out []string
	for _, d := range actuatorDrivers {
		out = append(out, d.Name)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}
