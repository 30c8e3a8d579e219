// Package sht3x emulates a Sensirion SHT3x (SHT30/31/35) temperature and
// humidity sensor at the level of its I²C commands, as an i2csim.Chip, so
// that the real driver (sensors/sht3x) runs unchanged against it in tests
// and in `edge --sim`:
//
//	b := i2csim.NewBus("SIM1")
//	b.Attach(0x44, sht3x.NewClimate(climate, nil))
//	b.Register() // i2creg.Open("SIM1") now reaches the chip
//
// # Datasheet
//
// SHT3x-DIS datasheet (version 6, February 2019):
// https://sensirion.com/media/documents/213E6A3B/63A5A569/Datasheet_SHT3x_DIS.pdf
// and the application note "SHT3x Electronic Identification Code"
// (version 3, January 2023) for the serial number.
//
// # What is emulated
//
//   - Single-shot measurements, all three repeatabilities, with and without
//     clock stretching (0x24xx, 0x2Cxx). Without stretching the data is not
//     ready until the datasheet's longest measurement time has passed on
//     the chip's clock (15 ms high, 6 ms medium, 4 ms low repeatability, at
//     2.4-5.5 V): a read before that is not acknowledged, as on the real
//     chip, which Linux reports as EREMOTEIO. With stretching the data is
//     there at once (the real chip holds SCL low meanwhile). The conditions
//     are taken from the Input at the moment of the command.
//   - Data is read out once: a second read, or a read with no command
//     before it, is not acknowledged.
//   - Status register (0xF32D; 0x8010 after power-on and soft reset: alert
//     pending and reset detected), clear status (0x3041), heater on/off
//     (0x306D/0x3066, status bit 13 only: the heater does not warm the
//     emulated reading), soft reset (0x30A2), break (0x3093).
//   - Serial number (0x3682, readable 1 ms after the command; 0x3780 with
//     clock stretching, at once).
//   - Every word the chip sends is followed by its CRC-8 (polynomial 0x31,
//     initial value 0xFF).
//   - Anything else (periodic and ART modes, alert limits, writes longer
//     than a command) is not acknowledged and sets the status register's
//     command-error bit. A one-byte write (half a command, e.g. an SHT4x's
//     0x89 from a bus scan) is acknowledged and ignored, and leaves no data
//     to read.
//
// Addresses are the bus's business: attach the chip at 0x44 (ADDR low) or
// 0x45 (ADDR high).
//
// # Faults
//
// The chip's own faults (Fault, set at run time with SetFault) add to the
// bus's (i2csim.NoAck, i2csim.BusError): CRC corrupts every CRC byte,
// Stuck repeats one measurement's words until the fault is changed
// (setting Stuck again keeps the same words), OutOfRange sends the
// temperature word 0xFFFF (130 °C, beyond the chip's 125 °C). A humidity
// word always decodes to 0..100 %RH, so there is no out-of-range humidity.
//
// # Units
//
// Inputs are °C and %RH. Words are the datasheet's: T = -45 + 175*raw/65535,
// RH = 100*raw/65535, so an input comes back within one step (0.0027 °C,
// 0.0015 %RH); inputs beyond -45..130 °C or 0..100 %RH are clamped.
package sht3x
