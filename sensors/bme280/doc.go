// Package bme280 reads a Bosch BME280 (temperature, relative humidity,
// barometric pressure) or BMP280 (temperature, pressure) over I²C, as a
// sensors.Sensor, through periph's driver periph.io/x/devices/v3/bmxx80.
//
//	bus, err := i2creg.Open("1") // main owns the bus
//	s, err := bme280.New(bus, bme280.Options{Name: "greenhouse", Addr: 0x76})
//	samples, err := s.Read(ctx) // temperature Cel, humidity %, pressure hPa
//
// # Datasheets
//
// BME280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bme280-ds002.pdf
// BMP280: https://www.bosch-sensortec.com/media/boschsensortec/downloads/datasheets/bst-bmp280-ds001.pdf
//
// # Addresses
//
// 0x76 with the SDO pin tied to GND (most breakout boards' default), 0x77
// with SDO tied to VDDIO (a solder jumper on many boards). Two chips fit on
// one bus. The chip id register 0xD0 tells the models apart: 0x60 BME280,
// 0x58 BMP280 (0x56 and 0x57 on engineering samples); [Identify] reads it.
//
// # Wiring (Raspberry Pi)
//
//	BME280   Pi header
//	VIN/VCC  pin 1 (3.3 V); the bare chip is 1.71..3.6 V: never 5 V
//	GND      pin 6
//	SCL      pin 5 (GPIO 3, SCL1)
//	SDA      pin 3 (GPIO 2, SDA1)
//	SDO      GND for 0x76, 3.3 V for 0x77
//	CSB      3.3 V (selects I²C; low at power-up selects SPI for good)
//
// The Pi has 1.8 kΩ pull-ups on SDA1 and SCL1; most breakout boards add
// 4.7 or 10 kΩ of their own, which is fine in parallel. A bare chip needs
// none beyond the Pi's.
//
// # Measurement
//
// The sensor uses forced mode: each Read triggers one measurement, waits for
// it (about 8 ms at 1x oversampling, 26 ms at 4x, 98 ms at 16x) and the chip
// goes back to sleep, drawing under 1 µA between reads. Resolution: 0.01 °C;
// pressure 0.026 hPa at 1x down to 0.0016 hPa at 16x; humidity 0.008 %RH.
// Range: -40..85 °C, 300..1100 hPa, 0..100 %RH; values outside are
// reported as sensors.ErrOutOfRange.
//
// # Errata and caveats
//
//   - Self-heating: every measurement warms the die, the more the more
//     often and the higher the oversampling (Bosch's recommended settings
//     for weather monitoring are 1x and one forced measurement a minute);
//     continuous 16x sampling reads noticeably high. A breakout board next
//     to a Pi's SoC reads the SoC's heat, not the room's: put the sensor on
//     a cable, away from the board.
//   - BMP280 sold as BME280: many cheap "BME280" boards carry a BMP280,
//     which has no humidity sensor (the packages look alike; the BME280's
//     is square, the BMP280's oblong). The chip id tells: this sensor
//     reports humidity only when the chip says 0x60, and Model says which
//     chip it found.
//   - Humidity saturates: after condensation the chip reads 100 %RH until
//     it dries; bmxx80 clamps humidity to 0..100, so it never reads out of
//     range.
//   - A chip that loses power forgets its configuration (oversampling,
//     standby); forced measurements then skip humidity and leave its
//     register at the reset value 0x8000, which decodes to a plausible
//     humidity. The sensor notices the reset configuration, reports
//     sensors.ErrOutOfRange, and reconfigures the chip at the next Read.
//
// # periph's bmxx80 when the chip vanishes
//
// bmxx80 reads the calibration once, in NewI2C, and then only triggers and
// reads measurements. When the chip stops answering, Sense returns the bus's
// error flattened to text (it formats it with %v), so the errno survives only
// as words ("remote I/O error"); sensors.I2CError classifies it by those.
// The Dev itself remains usable. This sensor drops the Dev after any failed
// transfer and identifies and configures the chip afresh at the next Read,
// so a chip that comes back, possibly another one, is read correctly.
// bmxx80 polls the status register without a time limit (and without a
// pause) while the chip says it is measuring, so a wedged chip would hold
// Read forever and keep the bus busy. This sensor hands bmxx80 a bus whose
// transfers fail once Read's context has ended: the poll stops, Read
// returns the context's error (kind "timeout") and the next Read starts
// afresh. The agent bounds every Read by its own timeout besides
// (agent.SensorConfig.Timeout).
//
// bmxx80 does not expose the raw ADC words, which the stuck detector needs:
// after Sense the sensor reads the data registers (0xF7..0xFE, preceded by
// the control registers 0xF2..0xF5) once more itself. The chip is asleep
// after a forced measurement, so they hold the words Sense converted.
package bme280
