package gpioout

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/actuators"
)

// Options configure an Output. Each field says its default.
type Options struct {
	// Name is the actuator's id (reading.ValidID), also the sensor name of
	// its state readings. Required.
	Name string
	// ActiveLow: the device is on while the pin is Low, as on most relay
	// boards (the opto-coupler's LED is lit by sinking current into the
	// pin). Default false: on while High (a MOSFET module, an LED).
	ActiveLow bool
}

// Output is an on/off actuator on a GPIO pin: a relay, a solenoid valve
// (through a relay or a MOSFET), an LED, a buzzer. It borrows the pin and
// never releases it: whoever opened the pin owns it. Set is called from one
// goroutine at a time; Value is safe for concurrent use.
type Output struct {
	p   gpio.PinOut
	opt Options

	mu    sync.Mutex
	value float64
}

// New drives p to its off level at once (High for an active-low board),
// so that the device is off from the moment it is opened, and returns the
// output. It fails if the pin cannot be driven.
func New(p gpio.PinOut, opt Options) (*Output, error) {
	if p == nil {
		return nil, errors.New("gpioout: no pin")
	}
	if opt.Name == "" {
		return nil, errors.New("gpioout: no name")
	}
	o := &Output{p: p, opt: opt}
	if err := p.Out(o.level(false)); err != nil {
		return nil, fmt.Errorf("gpioout %s: drive %s off: %w", opt.Name, p, err)
	}
	return o, nil
}

// Name implements actuators.Output.
func (o *Output) Name() string { return o.opt.Name }

// Set implements actuators.Output: 0 switches off, 1 on; any other value
// is an error and changes nothing. After a hardware error the output is in
// an unknown state and Value keeps the last value set.
func (o *Output) Set(ctx context.Context, value float64) error {
	if value != 0 && value != 1 {
		return fmt.Errorf("gpioout %s: value %v: a switch takes 0 or 1", o.opt.Name, value)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("gpioout %s: %w", o.opt.Name, err)
	}
	on := value == 1
	if err := o.p.Out(o.level(on)); err != nil {
		return fmt.Errorf("gpioout %s: drive %s %s: %w", o.opt.Name, o.p, onOff(on), err)
	}
	o.mu.Lock()
	o.value = value
	o.mu.Unlock()
	return nil
}

// Value implements actuators.Output: 0 or 1, the last value set (0 after
// New).
func (o *Output) Value() float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value
}

// level is the pin level that switches the device on (on) or off.
func (o *Output) level(on bool) gpio.Level { return gpio.Level(on != o.opt.ActiveLow) }

func onOff(on bool) string {
	if on {
		return "on"
	}
	return "off"
}

var (
	_ actuators.Output = (*Output)(nil)
)
