// Package ads1115 reads one channel of a Texas Instruments ADS1115 16-bit
// ADC over I²C as a sensors.Sensor: a voltage, or a physical quantity
// mapped linearly from it through two calibration points (a capacitive
// soil-moisture probe, a voltage divider, a 4-20 mA loop's shunt). It talks
// to the chip through periph's i2c.Bus, so it runs the same on a Raspberry
// Pi (/dev/i2c-1) and against the emulated chip of sim/chip/ads1115 in
// tests and in `edge --sim`.
//
// # Datasheet
//
// ADS111x datasheet (SBAS444D, revised December 2018):
// https://www.ti.com/lit/ds/symlink/ads1115.pdf
//
// # Why not periph's ads1x15
//
// periph.io/x/devices/v3/ads1x15 (v3.7.4) drives the chip, but this
// package does not wrap it, for four reasons found in its source:
//
//   - It sleeps exactly one nominal conversion time (1/DR) and reads the
//     conversion register without checking the config register's OS bit.
//     The datasheet allows the data rate to be 10 % slow; on such a chip
//     the read comes before the conversion ends and returns the previous
//     result, which after a channel switch is another channel's value.
//     This driver waits 1/DR, then polls OS until the conversion is done.
//   - Its wait is time.Sleep: a read cannot be cut short by a context
//     (125 ms at 8 samples/s).
//   - Its lock is per periph device, so two sensors built on two devices
//     for two channels of one chip interleave their conversions; here
//     sensors of one chip share Options.Lock.
//   - Its wait cannot be replaced, so a benchmark of a read measures
//     time.Sleep rather than the code.
//
// # What the driver does
//
// Each Read writes the config register: OS=1 (start), the channel's
// multiplexer setting, the gain for the full-scale range, single-shot mode,
// the data rate, comparator disabled. It waits 1/DR, polls the OS bit every
// tenth of a conversion (giving up after ten polls: ErrBus), and reads the
// conversion register: volts = raw * FS / 32768. A result at either end of
// the code range (0x7FFF, 0x8000) means the input is beyond the full scale:
// ErrOutOfRange. Since every read writes the whole configuration, a chip
// that was unplugged or power-cycled works again at the next read.
//
// # Addresses
//
// The ADDR pin picks one of four: GND 0x48 (most breakout boards pull it
// down), VDD 0x49, SDA 0x4A, SCL 0x4B. Up to four chips on one bus.
//
// # Wiring (Raspberry Pi)
//
//	ADS1115  Pi header
//	VDD      pin 1 (3.3 V)   2.0-5.5 V; at 3.3 V SDA/SCL stay Pi-safe
//	GND      pin 6
//	SCL      pin 5 (GPIO3)
//	SDA      pin 3 (GPIO2)
//	ADDR     GND (0x48), VDD, SDA or SCL
//	ALRT     unconnected (not used)
//	A0..A3   the analog inputs
//
// A capacitive soil-moisture probe v1.2: VCC to 3.3 V, GND to GND, AOUT to
// A0; it reads about 2.8 V in air and 1.2 V in water (SoilDryVolts,
// SoilWetVolts): calibrate with Options.Calibration
// {{SoilDryVolts, 0}, {SoilWetVolts, 100}}, metric sensors.MetricMoisture,
// unit sensors.UnitPercent, Clamp true. The probe's output is not linear
// in volumetric water content; better calibrate each probe in its own soil,
// dry and just watered.
//
// # Errata and practical notes
//
//   - No input may go below GND-0.3 V or above VDD+0.3 V, whatever the
//     range: at VDD 3.3 V the ±4.096 V range (the default) reads up to
//     3.3 V, the ±6.144 V range gives nothing more but coarser steps.
//   - Single-ended channels measure 0..+FS only: the negative half of the
//     codes is unused (15 bits of resolution); small negative codes near
//     0 V are offset and noise.
//   - The data rate is ±10 % (the internal oscillator); hence the OS polling.
//   - Sensors reading several channels of one chip must share one Lock
//     (Options.Lock): a conversion started for one channel cancels the
//     other's.
//   - The chip has no identity register: Identify is a heuristic on
//     register values, and cannot tell an ADS1115 from an ADS1015.
//
// # Units
//
// Volts (sensors.MetricVoltage, sensors.UnitVolt) by default; with a
// calibration, whatever Metric and Unit say. Values are rounded to the
// decimals one ADC step can show (0.0001 V at ±4.096 V).
package ads1115
