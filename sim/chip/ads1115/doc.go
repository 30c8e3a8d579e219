// Package ads1115 emulates a Texas Instruments ADS1115 16-bit ADC at
// register level, as an i2csim.Chip, so that the real driver
// (sensors/ads1115) runs unchanged against it in tests and in `edge --sim`:
//
//	soil := sim.NewSoil(sim.SoilOptions{Seed: 1})
//	adc := ads1115.New(ads1115.Options{Inputs: [4]ads1115.Input{ads1115.SoilProbe(soil)}})
//	b := i2csim.NewBus("SIM1")
//	b.Attach(0x48, adc)
//	b.Register() // i2creg.Open("SIM1") now reaches the chip
//
// # Datasheet
//
// ADS111x datasheet (SBAS444D, revised December 2018):
// https://www.ti.com/lit/ds/symlink/ads1115.pdf
//
// # What is emulated
//
//   - The pointer register (a write's first byte; bits 7:2 are reserved
//     and ignored) and the four registers it selects: conversion (0x00,
//     read-only, two's complement), config (0x01, reset 0x8583), low and
//     high threshold (0x02 reset 0x8000, 0x03 reset 0x7FFF).
//   - Single-shot conversions: writing the config with OS=1 and MODE=1
//     starts one; it takes 1/DR (DR = 8, 16, 32, 64, 128, 250, 475 or 860
//     samples/s), times 1+Options.RateError for a chip whose oscillator is
//     off (the datasheet allows ±10 %). The config's OS bit reads 0 until
//     it is done; the conversion register keeps the previous result until
//     then, so a driver that reads too early gets a stale value, as on the
//     real chip. Writing OS=1 during a conversion has no effect: the running
//     conversion ends with the settings it started with, the new ones
//     apply to the next.
//   - Continuous mode (MODE=0): the conversion register holds the latest
//     conversion completed on the 1/DR grid started by the config write.
//   - The multiplexer (AIN0-AIN1, AIN0-AIN3, AIN1-AIN3, AIN2-AIN3, and each
//     input against GND) and the programmable gain (full-scale range
//     ±6.144, ±4.096, ±2.048 (reset), ±1.024, ±0.512, ±0.256 V). The result
//     is round(V*32768/FSR), saturating at 0x7FFF and 0x8000. The input is
//     taken at the end of the conversion.
//   - Not emulated: the comparator and the ALERT/RDY pin (the threshold
//     registers only hold their values), the general-call reset, the
//     inputs' absolute limits (GND-0.3 V..VDD+0.3 V: the real chip cannot
//     measure above its supply whatever the range), noise.
//
// Addresses are the bus's business: attach the chip at 0x48 (ADDR to GND),
// 0x49 (VDD), 0x4A (SDA) or 0x4B (SCL).
//
// # Faults
//
// The chip's own faults (Fault, set at run time with SetFault) add to the
// bus's (i2csim.NoAck, i2csim.BusError): Stuck repeats one conversion's
// result forever, OutOfRange saturates every conversion at 0x7FFF. The
// chip has no checksum, so no CRC fault.
//
// # Units
//
// Inputs are volts against GND.
package ads1115
