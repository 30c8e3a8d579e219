// Package sht4x emulates a Sensirion SHT4x (SHT40/41/45) temperature and
// humidity sensor at the level of its one-byte I²C commands, as an
// i2csim.Chip, so that the real driver (sensors/sht4x) runs unchanged
// against it in tests and in `edge --sim`:
//
//	b := i2csim.NewBus("SIM1")
//	b.Attach(0x44, sht4x.NewClimate(climate, nil))
//	b.Register() // i2creg.Open("SIM1") now reaches the chip
//
// # Datasheet
//
// SHT4x datasheet (version 6.6, April 2024):
// https://sensirion.com/media/documents/33FD6951/662A593A/HT_DS_Datasheet_SHT4x.pdf
//
// # What is emulated
//
//   - Measurements in the three precisions (0xFD high, 0xF6 medium, 0xE0
//     low). The SHT4x has no clock stretching: the data is not ready until
//     the datasheet's longest measurement time has passed on the chip's
//     clock (8.3 ms high, 4.5 ms medium, 1.6 ms low precision); a read
//     before that is not acknowledged, as on the real chip, which Linux
//     reports as EREMOTEIO. The conditions are taken from the Input at the
//     moment of the command. A command sent during a measurement replaces
//     it.
//   - The six heater commands (0x39, 0x32: 200 mW; 0x2F, 0x24: 110 mW;
//     0x1E, 0x15: 20 mW; for 1 s or 0.1 s), each ending in a high-precision
//     measurement that is ready after the longest heater pulse (1.1 s or
//     0.11 s). The heater does not warm the emulated reading: the
//     measurement is of the Input at the command.
//   - Data is read out once: a second read, or a read with no command
//     before it, is not acknowledged.
//   - Serial number (0x89): the datasheet gives no time for it, so the
//     emulated chip answers at once (the driver waits 10 ms, as Sensirion's
//     reference driver does).
//   - Soft reset (0x94): the chip acknowledges nothing for the datasheet's
//     longest reset time, 1 ms, and drops any data not yet read.
//   - Every word the chip sends is followed by its CRC-8 (polynomial 0x31,
//     initial value 0xFF).
//   - Anything else (other command bytes, writes of more than one byte such
//     as an SHT3x's two-byte commands from a bus scan) is not acknowledged.
//
// Addresses are the bus's business: the part number fixes it, 0x44
// (SHT4x-AD1B), 0x45 (-BD1B) or 0x46 (-CD1B); attach the chip there.
//
// # Faults
//
// The chip's own faults (Fault, set at run time with SetFault) add to the
// bus's (i2csim.NoAck, i2csim.BusError): CRC corrupts every CRC byte,
// Stuck repeats one measurement's words until the fault is changed,
// OutOfRange sends the temperature word 0xFFFF (130 °C, beyond the chip's
// 125 °C). The driver crops humidity to 0..100 %RH, as the datasheet says,
// so there is no out-of-range humidity.
//
// # Units
//
// Inputs are °C and %RH. Words are the datasheet's (section 4.6):
// T = -45 + 175*raw/65535, RH = -6 + 125*raw/65535, so an input comes back
// within one step (0.0027 °C, 0.0019 %RH); inputs beyond -45..130 °C or
// -6..119 %RH are clamped.
package sht4x
