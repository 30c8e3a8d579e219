// Package bh1750 emulates the ROHM BH1750FVI ambient light sensor at the
// level of its I²C instruction set, behind an i2csim.Bus, so that the real
// driver (sensors/bh1750) runs unchanged against it:
//
//	bus := i2csim.NewBus("SIM1")
//	bus.Attach(0x23, bh1750.NewLight(light, clock.Now))
//
// The chip measures a [Source] of illuminance in lx (a sim.Light at a
// clock's time, or a fixed value) and serves the counts the datasheet's
// conversion gives: lx = counts / 1.2 × 69/MTreg, halved in H-resolution
// mode 2.
//
// # Instruction set emulated
//
//	0x00        power down
//	0x01        power on
//	0x07        reset: clears the data register (ignored while powered down)
//	0x10 0x11 0x13  continuous H (1 lx), H2 (0.5 lx), L (4 lx) resolution
//	0x20 0x21 0x23  one-time H, H2, L: one measurement, then power down
//	0x40..0x47  MTreg bits 7..5
//	0x60..0x7F  MTreg bits 4..0
//
// A read transaction returns the data register, 2 bytes, big-endian. There
// is no register address and no id register.
//
// # Faults
//
// The chip's own failures are set with [Chip.SetFault]: [Stuck] and
// [OutOfRange] (saturated, 0xFFFF). [Chip.PowerCycle] emulates a loss of
// power. Failures of the bus (no acknowledge, a bus error) and the chip's
// absence belong to the i2csim.Bus: SetFault, Detach.
//
// # Datasheet
//
// https://www.mouser.com/datasheet/2/348/bh1750fvi-e-186247.pdf
package bh1750
