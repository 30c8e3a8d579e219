// Package hardware opens the sensors a configuration names, on a board or
// on emulated chips, and identifies what is on a board's buses.
//
// # The driver table
//
// Every supported sensor is one row of a table (drivers.go): its name in
// the configuration, the keys it takes, what it reports, and what it
// drives: a chip on an I²C bus, a GPIO input pin, a 1-wire probe, or a
// simulation. Each hardware row has its emulator beside its driver
// (drivers.go), so that the same row serves a board, --sim and fallbacks.
//
// # Configuration
//
// [SensorConfig] is one sensor as written (edge decodes its YAML file into
// it); [Validate] checks a list of them against the table and returns every
// mistake, typed ([ConfigError]) so that the caller can give each its line.
//
// # Opening
//
// [Open] opens the sensors and returns a [Board], which owns what they are
// attached to: drivers borrow buses and pins, the Board closes them. On a
// Raspberry Pi, buses and pins are found through periph's registries
// (i2creg, gpioreg) after host.Init, and DS18B20 probes in the kernel's w1
// directory. With [Options].Sim, register-level emulators (package sim)
// are registered under the configured names and opened by the same code:
// simulation is another implementation, not a branch.
//
// Hardware missing at start does not stop the others: a sensor configured
// with fallback: sim runs its driver over an emulator of its own; any other
// stands in as a sensor whose reads fail with the open's typed error
// (sensors.ErrNoDevice ...) and retry the open, until the hardware answers.
//
// # Actuators
//
// [ActuatorConfig] is one actuator as written (driver relay: on/off;
// pwm: a level), checked by [ValidateActuators] against the sensors (names
// and pins are unique across both) and the interlocks. [Open] opens them
// with the sensors ([Options].Actuators, [Board.Actuators]): on a board
// through gpioreg, each driven to its off level at once; with Sim, or
// fallback: sim for a pin that cannot be driven, over an emulated pin whose
// changes move the simulated world (a heater warms the climate, a fan cools
// it, a valve waters the soil). An actuator whose pin cannot be driven
// otherwise fails its commands (sensors.ErrNoDevice) and retries the pin
// each time. Closing the Board leaves outputs as they are: safe states
// are the controller's (agent/actuate) to apply, before the Board closes.
//
// # Scanning
//
// [Scan] lists the I²C buses, tries the identification of every supported
// chip at each of its addresses, lists the 1-wire probes, and writes a
// sensors: snippet to paste into the configuration. [Describe] writes the
// table edge check shows of a configuration's sensors.
package hardware
