// Package sht3x reads a Sensirion SHT3x (SHT30, SHT31, SHT35) temperature
// and relative-humidity sensor over I²C. periph.io has no driver for it;
// this one speaks to the chip through periph's i2c.Bus, so it runs the same
// on a Raspberry Pi (/dev/i2c-1) and against the emulated chip of
// sim/chip/sht3x in tests and in `edge --sim`.
//
// # Datasheet
//
// SHT3x-DIS datasheet (version 6, February 2019):
// https://sensirion.com/media/documents/213E6A3B/63A5A569/Datasheet_SHT3x_DIS.pdf
// Serial number: application note "SHT3x Electronic Identification Code"
// (version 3, January 2023):
// https://sensirion.com/media/documents/E5762713/63D103C2/Sensirion_electronic_identification_code_SHT3x.pdf
//
// # What the driver does
//
// Each Read sends the single-shot, high-repeatability command without clock
// stretching (0x2400), waits the datasheet's longest measurement time
// (15.5 ms; it returns early if the context ends) and reads six bytes:
// temperature word, CRC, humidity word, CRC. Every word's CRC-8 (polynomial
// 0x31, initial value 0xFF) is checked. Conversions (datasheet 4.13):
//
//	T  [°C]  = -45 + 175 * raw / 65535
//	RH [%RH] = 100 * raw / 65535
//
// Samples are rounded to 0.01, the chip's resolution. A temperature outside
// the specified -40..125 °C is ErrOutOfRange; a humidity word always decodes
// to 0..100 %RH. After any failed read the next read first sends a soft
// reset (0x30A2), so a chip that was unplugged, lost power or wedged works
// again without re-creating the sensor.
//
// # Addresses
//
// 0x44 with the ADDR pin tied low (the default on most breakout boards),
// 0x45 with ADDR high. Do not leave ADDR floating. Two SHT3x fit on one bus.
// Beware: an SHT4x (SHT40-AD1B) also answers at 0x44; Identify tells them
// apart.
//
// # Wiring (Raspberry Pi)
//
//	SHT3x   Pi header
//	VDD     pin 1 (3.3 V)      2.15-5.5 V; use 3.3 V so SDA/SCL stay at 3.3 V
//	GND     pin 6
//	SDA     pin 3 (GPIO2)
//	SCL     pin 5 (GPIO3)
//	ADDR    GND for 0x44, VDD for 0x45
//	nRESET  unconnected (internal pull-up) or VDD
//	ALERT   unconnected
//
// The Pi has 1.8 kΩ pull-ups on GPIO2/3; most breakouts add 10 kΩ more,
// which is fine. Keep leads under about a metre at 100 kHz.
//
// # Errata and practical notes
//
//   - Clock stretching: the Raspberry Pi's BCM2835 I²C controller mishandles
//     clock stretching (it can sample SCL while the slave still holds it,
//     corrupting a byte). This driver uses only the commands without clock
//     stretching (0x2400, serial number 0x3682) and waits on the host
//     instead; a read before the measurement is done is simply not
//     acknowledged by the chip.
//   - Heater: the built-in heater (0x306D) is for plausibility checks only;
//     it raises the reading by a few degrees and is off after reset. The
//     driver never turns it on.
//   - Condensation: after long exposure to high humidity (above about
//     80 %RH) or condensation, readings read high and recover slowly at
//     normal conditions; mount the sensor where water cannot collect, or
//     use the membrane (IP67) variant outdoors.
//   - Self-heating is negligible at one read per second (single-shot mode
//     draws about 1.7 µA on average), but keep the sensor away from the
//     Pi's CPU and regulator, which warm the air around the board by
//     several degrees.
//   - The status register's reserved bits are undefined; the driver never
//     compares the whole word.
//
// # Identification
//
// Identify reads the 32-bit serial number (two words with CRCs), falling
// back to the status register (one word with CRC) for chips whose datasheet
// revision does not list the serial-number command. A foreign chip passes
// either check only if its bytes happen to carry valid CRC-8s.
//
// # Units
//
// Temperature in Cel (sensors.UnitCelsius), relative humidity in %
// (sensors.UnitRelHumidity), metric names sensors.MetricTemperature and
// sensors.MetricHumidity.
package sht3x
