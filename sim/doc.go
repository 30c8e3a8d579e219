// Package sim simulates sensors with believable physical behaviour, for
// demos, load tests and CI, where there is no hardware.
//
// It is in two layers:
//
//   - Physical models, which know nothing about sensors: [Climate] (air
//     temperature with a daily cycle, relative humidity that moves against
//     it, barometric pressure drifting slowly within realistic bounds) and
//     [Door] (a door contact that opens now and then and stays open a
//     while). A model is a function of time: At(t) / Open(t). A later
//     register-level chip emulator (a BME280 behind an i2c.Bus) drives its
//     registers from the same models.
//   - Sensor wrappers ([ClimateSensor], [DoorSensor]), which implement
//     sensors.Sensor by asking a model for the conditions at the time their
//     clock says. Simulation is another implementation of the interface,
//     never a branch inside a driver.
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
