// Package bh1750 reads a ROHM BH1750FVI ambient light sensor over I²C, as a
// sensors.Sensor reporting illuminance in lx.
//
//	bus, err := i2creg.Open("1") // main owns the bus
//	s, err := bh1750.New(bus, bh1750.Options{Name: "window"})
//	samples, err := s.Read(ctx) // illuminance lx
//
// # Datasheet
//
// https://www.mouser.com/datasheet/2/348/bh1750fvi-e-186247.pdf
//
// # Addresses
//
// 0x23 with the ADDR pin low (most boards pull it down: the default), 0x5C
// with ADDR high. The chip has no id register; see [Identify].
//
// # Wiring (Raspberry Pi)
//
//	BH1750 board  Pi header
//	VCC           pin 1 (3.3 V); the bare chip takes 2.4..3.6 V
//	GND           pin 6
//	SCL           pin 5 (GPIO 3, SCL1)
//	SDA           pin 3 (GPIO 2, SDA1)
//	ADDR          GND or open for 0x23, 3.3 V for 0x5C
//
// The Pi's 1.8 kΩ pull-ups on SDA1 and SCL1 suffice; GY-302 style boards
// add their own 10 kΩ, which is fine. Boards sold for 5 V carry a
// regulator and level shifters: still power them from 3.3 V on a Pi, or
// their pull-ups drive the Pi's pins to 5 V.
//
// # Measurement
//
// Each Read sends a one-time measurement opcode, waits the datasheet's
// longest measurement time (180 ms in High and High2 resolution, 24 ms in
// Low, scaled by MTreg/69) and reads two bytes of counts; the chip powers
// itself down after the measurement. lx = counts / 1.2 × 69/MTreg, halved
// in High2. At the default MTreg the range is 0..54612 lx in 1 lx steps
// (High), which full sunlight (about 100000 lx) exceeds: outdoors in the
// sun, set MTreg to 31 (up to 121557 lx). 65535 counts means saturated and
// is reported as sensors.ErrOutOfRange.
//
// # Errata and caveats
//
//   - The chip's accuracy is ±20 % (the 1.2 in the conversion is its
//     typical sensitivity, 0.96..1.44 over parts); calibrate against a lux
//     meter through MTreg if it matters.
//   - Its spectral response peaks at 560 nm, close to the eye's, with
//     little infrared sensitivity, so incandescent, fluorescent and LED
//     light of equal lux read alike (within a few percent).
//   - A window or diffuser in front of the sensor attenuates the light; the
//     datasheet raises MTreg to compensate.
//   - Darkness reads 0 counts for hours: the stuck detector ignores 0.
//
// # Why not periph's driver
//
// periph.io/x/devices/v3/bh1750 (v3.7.4) cannot serve here: its SetMode
// sends the reset opcode (0x07) whatever the mode, so Halt never powers the
// chip down and the power-on opcode is never sent; Sense truncates counts /
// 1.2 to a whole number before scaling (0.83 lx reads 0, High2's half-lux
// steps are lost) and knows no MTreg; it hides the raw counts that
// saturation and stuck detection need; and it sleeps a fixed 140 ms that no
// context can cut short. The chip's instruction set is seven opcodes, so
// this package drives it directly.
package bh1750
