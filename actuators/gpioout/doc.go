// Package gpioout drives an on/off actuator from a GPIO pin: a relay board
// (switching a heater, a pump, a light), a solenoid valve, an LED, a
// buzzer. It implements actuators.Output over periph's gpio.PinOut, so the
// same code drives a Raspberry Pi's pin (gpioreg.ByName("GPIO23")) and an
// emulated one (sim/gpiosim).
//
// # Active-low
//
// Most relay boards sold for the Pi and Arduino switch ON when their IN
// pin is pulled LOW: the input lights an opto-coupler's LED (or drives a
// PNP transistor) by sinking current into the pin. Set Options.ActiveLow
// for them; the driver then drives the pin High for off and Low for on.
// A MOSFET module, a bare transistor stage, an LED or a buzzer driven from
// the pin are usually active-high. Check with a multimeter, or with the
// board's LED, before wiring a load.
//
// # Safe at boot
//
// New drives the pin to the off level as soon as it opens it. Before
// that, from power-on until the agent starts, the pin is an input with the
// SoC's default pull: GPIO0-8 pulled up, GPIO9-27 pulled down on a Pi.
// With an active-low board an input pulled down (or floating) can switch
// the relay on during boot: choose a pin pulled up at reset for active-low
// boards (or add a 10 kΩ pull-up to 3.3 V on IN), a pin pulled down for
// active-high stages, and never rely on the software alone.
//
// # Wiring
//
//   - The Pi's GPIOs are 3.3 V and give a few mA (16 mA at most, 50 mA for
//     all): never a coil, a motor or a valve directly. A relay board with
//     an opto-coupler or transistor input, or a logic-level MOSFET, does
//     the switching.
//   - Power a relay board's coils from their own supply (JD-VCC, with the
//     VCC-JD-VCC jumper removed) so that a coil's surge cannot brown out
//     the Pi; keep the grounds separate if the board is opto-isolated.
//   - A bare coil or solenoid switched by a transistor needs a flyback
//     diode (1N4007) across it, cathode to +: when the current stops, the
//     coil's voltage spike otherwise kills the transistor and the Pi.
//     Relay boards have it on board; bare solenoid valves do not.
//   - Mains: a relay board on a bench is not an installation. Switch mains
//     only inside an enclosure, with fusing and strain relief, installed
//     by a qualified person. See firmware-notes/actuators.md.
package gpioout
