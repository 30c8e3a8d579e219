// Package sht4x reads a Sensirion SHT4x (SHT40, SHT41, SHT45) temperature
// and relative-humidity sensor over I²C. periph.io has no driver for it;
// this one speaks to the chip through periph's i2c.Bus. It shares with
// package sht3x the CRC-8, the CRC-checked read-out and the single-shot
// read with its soft-reset recovery (sensors/internal/sensirion); the two
// families have different commands, timings and humidity formulas.
//
// # Datasheet
//
// SHT4x datasheet (version 6.6, April 2024):
// https://sensirion.com/media/documents/33FD6951/662A593A/HT_DS_Datasheet_SHT4x.pdf
//
// # What the driver does
//
// Each Read sends the one-byte high-precision command without heater
// (0xFD), waits the datasheet's longest measurement time (8.3 ms; it
// returns early if the context ends) and reads six bytes: temperature
// word, CRC, humidity word, CRC. Every word's CRC-8 (polynomial 0x31,
// initial value 0xFF) is checked. Conversions (datasheet 4.6):
//
//	T  [°C]  = -45 + 175 * raw / 65535
//	RH [%RH] = -6 + 125 * raw / 65535, cropped to 0..100
//
// Samples are rounded to 0.01. A temperature outside the specified
// -40..125 °C is ErrOutOfRange. After any failed read the next read first
// sends a soft reset (0x94), so a chip that was unplugged or wedged works
// again without re-creating the sensor.
//
// # Addresses
//
// Fixed by the part number, no ADDR pin: 0x44 (SHT4x-AD1B, the usual
// one on breakout boards), 0x45 (-BD1B), 0x46 (-CD1B). An SHT3x also
// answers at 0x44 and 0x45; Identify tells them apart (an SHT3x
// acknowledges the one-byte 0x89 but has no data to send after it).
//
// # Wiring (Raspberry Pi)
//
//	SHT4x   Pi header
//	VDD     pin 1 (3.3 V)    1.08-3.6 V: never 5 V
//	GND     pin 6
//	SDA     pin 3 (GPIO2)
//	SCL     pin 5 (GPIO3)
//
// # Errata and practical notes
//
//   - No clock stretching exists on the SHT4x: a read before the
//     measurement is done is not acknowledged, which this driver avoids by
//     waiting the maximum time.
//   - Heater: the heater commands (0x39 … 0x15) heat for 0.1 s or 1 s at
//     up to 200 mW and measure at the end; they are for creep recovery in
//     condensing environments, limited to a 10 % duty cycle. The driver
//     never uses them.
//   - Humidity near saturation: the raw formula spans -6..119 %RH and the
//     datasheet asks drivers to crop, which this one does; a reading stuck
//     at 100 %RH for long means condensation on the sensor.
//   - Keep the sensor away from the Pi's CPU and regulator, which warm the
//     air around the board by several degrees.
//
// # Tests
//
// The tests run the driver against the emulated SHT4x of sim/chip/sht4x on
// a registered i2csim bus, as `edge --sim` does.
//
// # Units
//
// Temperature in Cel (sensors.UnitCelsius), relative humidity in %
// (sensors.UnitRelHumidity).
package sht4x
