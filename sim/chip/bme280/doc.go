// Package bme280 emulates the Bosch BME280 (temperature, pressure,
// humidity) and BMP280 (temperature, pressure) at register level, behind
// an i2csim.Bus, so that the real driver (periph's bmxx80, wrapped by
// sensors/bme280) runs unchanged against it:
//
//	bus := i2csim.NewBus("SIM1")
//	chip := bme280.NewClimate(bme280.BME280, climate, clock.Now)
//	bus.Attach(0x76, chip)
//
// The chip measures a [Source] of physical conditions (a sim.Climate at a
// clock's time, or fixed values) and serves the ADC words that the
// datasheet's compensation formulas, applied with the chip's calibration,
// turn back into those conditions: the emulator runs the datasheet's
// integer compensation backwards (by bisection over the ADC words), so a
// driver decodes them to within the chip's resolution: 0.008 °C (the
// driver's 0.01 °C steps), 0.016 hPa at 1x oversampling down to 0.001 hPa
// at 16x, 0.007 %RH.
//
// # Register map emulated
//
//	0x88..0xA1  calibration T1..T3, P1..P9, H1 (read-only)
//	0xD0        chip id: 0x60 BME280, 0x58 BMP280
//	0xE0        reset: writing 0xB6 resets the chip
//	0xE1..0xE7  calibration H2..H6 (BME280 only)
//	0xF2        ctrl_hum: humidity oversampling, effective at the next ctrl_meas write
//	0xF3        status: 0 (conversions complete instantly); 0x08 "measuring" while Wedged
//	0xF4        ctrl_meas: temperature and pressure oversampling, mode
//	0xF5        config: standby and filter, stored, not emulated
//	0xF7..0xFE  data: pressure, temperature (20 bits each), humidity (16 bits)
//
// Other registers read 0 and ignore writes.
//
// # Faults
//
// The chip's own failures are set with [Chip.SetFault]: [Stuck],
// [OutOfRange], [ResetValues] and [Wedged] (a conversion that never ends,
// so a driver waiting for it hangs; each status read then takes the 0.3 ms
// it takes on a 100 kHz bus, so that the driver's polling does not spin a
// CPU core); [Chip.PowerCycle] emulates a loss of power (the chip forgets
// its configuration). Failures of the bus (no acknowledge, a bus error)
// and the chip's absence belong to the i2csim.Bus: SetFault, Detach.
//
// # Datasheets
//
// BME280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
// BMP280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf
package bme280
