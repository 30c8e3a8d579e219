// Package sim simulates sensors with believable physical behaviour, for
// demos, load tests and CI, where there is no hardware.
//
// It is in three layers:
//
//   - Physical models, which know nothing about sensors: [Climate] (air
//     temperature with a daily cycle, relative humidity that moves against
//     it, barometric pressure drifting slowly within realistic bounds),
//     [Light] (daylight between sunrise and sunset, with passing clouds),
//     [Soil] (soil moisture drying by day, rising at waterings), [Rain]
//     (rain events and a tipping bucket's tips), [Motion] (a room's
//     occupancy as a PIR detector sees it) and [Door] (a door contact that
//     opens now and then and stays open a while). A model is a function of
//     time: At(t) / Open(t). Actuators act on models from a given time on:
//     [Climate.SetHeating] and [Climate.SetCooling] (a heater and a fan
//     move the temperature over minutes, humidity following), and
//     [Soil.SetIrrigation] (a valve wets the soil within a minute or two).
//   - Emulated hardware, in sub-packages, driven by the models: sim/i2csim
//     (an I²C bus behind periph's i2c.Bus, registered with i2creg, with
//     no-ack and bus-error faults), sim/chip/* (register-level emulators of
//     the BME280/BMP280, SHT3x, BH1750 and ADS1115, with chip faults: CRC,
//     stuck, out of range), sim/gpiosim (GPIO input pins behind periph's
//     gpio.PinIO with an edge queue, bounce and chatter) and sim/w1sim (the
//     kernel's 1-wire sysfs files of DS18B20 probes). The real drivers in
//     sensors/ run against them unchanged: `edge --sim` and the tests.
//   - Sensor wrappers ([ClimateSensor], [DoorSensor]), which implement
//     sensors.Sensor straight from a model, for the fleet simulator, where
//     thousands of devices need no register traffic. Simulation is another
//     implementation of an interface, never a branch inside a driver.
//
// Everything is deterministic: a model draws from math/rand/v2 seeded by its
// options, and time comes from the caller (models) or from an injectable
// clock (sensors). The same seed and the same sequence of times give the
// same values, so tests use a fixed seed and a fake clock.
//
// Models are safe for concurrent use, so several sensors can share one
// climate (a thermometer and a hygrometer in the same room). Asking a model
// about a time before the latest it was asked about returns the state at the
// latest time: models do not run backwards.
package sim
