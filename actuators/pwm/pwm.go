package pwm

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"

	"periph.io/x/conn/v3/gpio"
	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/actuators"
)

// DefaultFrequency is what a 4-pin PC fan's PWM input expects (Intel's
// specification: 25 kHz, 21 to 28 kHz accepted).
const DefaultFrequency = 25 * physic.KiloHertz

// Options configure an Output. Each field says its default.
type Options struct {
	// Name is the actuator's id (reading.ValidID), also the sensor name of
	// its state readings. Required.
	Name string
	// Frequency of the PWM. Default DefaultFrequency (25 kHz, PC fans);
	// LED dimmers and MOSFET modules work at 1 kHz or less.
	Frequency physic.Frequency
	// Invert: the level is the share of time the pin is Low, for a stage
	// that inverts (a transistor pulling a fan's PWM line down). Default
	// false.
	Invert bool
}

// Output is a level (0 to 100 % duty) on a PWM-capable pin: a fan's speed,
// a dimmer. It borrows the pin and never releases it. Set is called from
// one goroutine at a time; Value is safe for concurrent use.
type Output struct {
	p   gpio.PinOut
	opt Options

	mu    sync.Mutex
	value float64
}

// New sets p to 0 % at once (the device off), at the frequency asked, and
// returns the output. It fails if the pin cannot do PWM.
func New(p gpio.PinOut, opt Options) (*Output, error) {
	if p == nil {
		return nil, errors.New("pwm: no pin")
	}
	if opt.Name == "" {
		return nil, errors.New("pwm: no name")
	}
	if opt.Frequency < 0 {
		return nil, fmt.Errorf("pwm %s: negative frequency %s", opt.Name, opt.Frequency)
	}
	if opt.Frequency == 0 {
		opt.Frequency = DefaultFrequency
	}
	o := &Output{p: p, opt: opt}
	if err := p.PWM(o.duty(0), opt.Frequency); err != nil {
		return nil, fmt.Errorf("pwm %s: set %s to 0%% at %s: %w", opt.Name, p, opt.Frequency, err)
	}
	return o, nil
}

// Name implements actuators.Output.
func (o *Output) Name() string { return o.opt.Name }

// Set implements actuators.Output: value is the duty in percent, 0 to 100;
// outside that (or NaN) is an error and changes nothing.
func (o *Output) Set(ctx context.Context, value float64) error {
	if math.IsNaN(value) || value < 0 || value > 100 {
		return fmt.Errorf("pwm %s: level %v: want 0 to 100 %%", o.opt.Name, value)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("pwm %s: %w", o.opt.Name, err)
	}
	if err := o.p.PWM(o.duty(value), o.opt.Frequency); err != nil {
		return fmt.Errorf("pwm %s: set %s to %v%%: %w", o.opt.Name, o.p, value, err)
	}
	o.mu.Lock()
	o.value = value
	o.mu.Unlock()
	return nil
}

// Value implements actuators.Output: the last level set, in percent (0
// after New).
func (o *Output) Value() float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.value
}

// Frequency returns the PWM frequency in use.
func (o *Output) Frequency() physic.Frequency { return o.opt.Frequency }

// Duty converts a level in percent to periph's duty, exactly 0 and
// gpio.DutyMax at the ends.
func Duty(percent float64) gpio.Duty {
	return gpio.Duty(math.Round(percent / 100 * float64(gpio.DutyMax)))
}

func (o *Output) duty(percent float64) gpio.Duty {
	if o.opt.Invert {
		percent = 100 - percent
	}
	return Duty(percent)
}

var _ actuators.Output = (*Output)(nil)
