// Package pwm drives a level actuator by PWM from a GPIO pin: a 4-pin PC
// fan's speed, an LED dimmer, a MOSFET module on a DC heater or pump. It
// implements actuators.Output over periph's gpio.PinOut.PWM, the level a
// duty in percent (0..100), so the same code drives a Raspberry Pi's pin
// and an emulated one (sim/gpiosim).
//
// # Pins
//
// Use the Pi's hardware PWM pins: GPIO12 and GPIO18 (PWM channel 0), GPIO13
// and GPIO19 (channel 1); two pins on one channel share its duty. periph
// drives them through the PWM peripheral (its bcm283x driver, which needs
// access to the SoC's registers: run a first command and read the log);
// other pins refuse such frequencies. A pin that refuses fails New, and
// the agent reports the actuator's commands failed (or emulates it, with
// fallback: sim). The pin is 3.3 V and a few
// mA: it drives a fan's PWM input or a MOSFET's gate, never the load.
//
// # Frequency
//
//   - A 4-pin PC fan: 25 kHz (DefaultFrequency; the specification accepts
//     21 to 28 kHz), on the fan's blue PWM wire, which the fan pulls up
//     itself (to 5 V: the Pi pulls it down through an open-drain stage or a
//     small NPN, with Options.Invert if the stage inverts). Most fans keep
//     turning at 20-30 % at 0 % duty; many stop below a minimum: set the
//     configuration's min for the actuator rather than commanding a stall.
//     At a few kHz a fan whines: stay above 20 kHz.
//   - A dimmer or MOSFET module (LED strip, DC heater): 1 kHz or less;
//     MOSFET modules with slow gate drivers heat up at 25 kHz.
//   - A 3-pin fan has no PWM input: PWM its supply through a MOSFET at a
//     low frequency (tens of Hz), or switch it with a relay (gpioout).
//
// New sets the duty to 0 at once. Until the agent starts, a PWM pin is an
// input with the SoC's pull (down on GPIO12/13/18/19), so a fan stage that
// is off when its input is low stays off through boot.
package pwm
