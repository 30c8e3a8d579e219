// Package sensors is the edge agent's sensor vocabulary: what a sensor is
// and what it returns. It holds no implementation and imports nothing from
// periph or any hardware library, so the agent, the simulator and tests can
// use it without dragging in drivers.
//
// Drivers for real chips live in sub-packages named after the chip
// (sensors/bme280, ...); simulated sensors live in package sim. Both are
// just implementations of [Sensor].
//
// # Contract
//
// A sensor only gathers: the agent owns the clock, the schedule, the device
// id, the timestamps and the sequence numbers (as in telegraf, where an input
// only gathers). A Read call takes one measurement, synchronously, and
// returns one [Sample] per quantity measured (a BME280 returns temperature,
// humidity and pressure from one Read).
//
// Metric names and units follow package reading: metric names are
// [a-z0-9_], units are UCUM-style codes. Use the constants below for the
// common quantities so that every driver names them the same way.
//
// # Optional abilities
//
// Abilities that only some sensors have are separate small interfaces,
// discovered by type assertion, never methods every sensor must stub:
//
//   - io.Closer: the sensor holds a resource of its own (a file, a
//     connection). Whoever created the sensor closes it after the agent has
//     stopped; the agent never closes sensors. A driver that borrows a bus
//     does not close the bus: main owns buses.
package sensors
