package bme280

// Calibration is the trimming a BME280 or BMP280 carries in its
// non-volatile memory, in the datasheet's names (dig_T1 is T1, ...). The
// driver reads it from registers 0x88..0xA1 and 0xE1..0xE7 and needs it to
// turn ADC words into physical values; the emulator uses it the other way.
// H1..H6 exist only on the BME280.
type Calibration struct {
	T1     uint16
	T2, T3 int16

	P1                             uint16
	P2, P3, P4, P5, P6, P7, P8, P9 int16

	H1     uint8
	H2     int16
	H3     uint8
	H4, H5 int16 // 12-bit, 0..2047 here (the emulator does not encode negative values)
	H6     int8
}

// DatasheetCalibration returns the calibration the emulator serves unless
// told otherwise: T1..P9 are the worked example of the BMP280 datasheet
// (BST-BMP280-DS001, section 3.12: adc_T 519888 gives 25.08 °C, adc_P
// 415148 gives 100653.27 Pa); H1..H6 come from a real BME280 (the one
// recorded in periph's bmxx80 tests), as the BME280 datasheet gives no
// example for humidity.
func DatasheetCalibration() Calibration {
	return Calibration{
		T1: 27504, T2: 26435, T3: -1000,
		P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
		H1: 75, H2: 366, H3: 0, H4: 309, H5: 0, H6: 30,
	}
}

// registers returns the calibration as the chip stores it: tph is
// 0x88..0xA1 (26 bytes, little-endian words, 0xA0 unused, 0xA1 H1), h is
// 0xE1..0xE7 (H2 little-endian, H3, then H4 and H5 packed into 12 bits
// each across 0xE4..0xE6, H6).
func (c Calibration) registers() (tph [26]byte, h [7]byte) {
	words := []uint16{c.T1, uint16(c.T2), uint16(c.T3), c.P1, uint16(c.P2), uint16(c.P3), uint16(c.P4),
		uint16(c.P5), uint16(c.P6), uint16(c.P7), uint16(c.P8), uint16(c.P9)}
	for i, w := range words {
		tph[2*i] = byte(w)
		tph[2*i+1] = byte(w >> 8)
	}
	tph[25] = c.H1
	h[0] = byte(c.H2)
	h[1] = byte(uint16(c.H2) >> 8)
	h[2] = c.H3
	h[3] = byte(c.H4 >> 4)
	h[4] = byte(c.H4&0x0F) | byte(c.H5&0x0F)<<4
	h[5] = byte(c.H5 >> 4)
	h[6] = byte(c.H6)
	return tph, h
}

// The compensation below is the datasheet's integer code (BME280 datasheet
// BST-BME280-DS002, section 4.2.3), the same arithmetic a driver runs; the
// emulator inverts it by bisection, so the words it serves decode to the
// physical value asked for, to the last bit the chip resolves.

// tFine returns the datasheet's t_fine for a 20-bit temperature word:
// temperature in 1/5120 °C.
func (c *Calibration) tFine(adcT int32) int32 {
	var1 := ((adcT>>3 - int32(c.T1)<<1) * int32(c.T2)) >> 11
	d := adcT>>4 - int32(c.T1)
	var2 := (((d * d) >> 12) * int32(c.T3)) >> 14
	return var1 + var2
}

// temperature returns the temperature in 0.01 °C, as the datasheet's
// BME280_compensate_T_int32.
func temperature(tFine int32) int32 { return (tFine*5 + 128) >> 8 }

// pressure returns the pressure in Pa as Q24.8 (1/256 Pa), as the
// datasheet's BME280_compensate_P_int64.
func (c *Calibration) pressure(adcP, tFine int32) uint32 {
	return uint32(c.pressure64(adcP, tFine))
}

// pressure64 is pressure before the datasheet's cast to 32 bits, which
// wraps the (meaningless) negative pressures of words far out of range.
func (c *Calibration) pressure64(adcP, tFine int32) int64 {
	var1 := int64(tFine) - 128000
	var2 := var1 * var1 * int64(c.P6)
	var2 += (var1 * int64(c.P5)) << 17
	var2 += int64(c.P4) << 35
	var1 = (var1*var1*int64(c.P3))>>8 + (var1*int64(c.P2))<<12
	var1 = ((int64(1)<<47 + var1) * int64(c.P1)) >> 33
	if var1 == 0 {
		return 0 // avoid a division by zero
	}
	p := int64(1048576 - adcP)
	p = ((p<<31 - var2) * 3125) / var1
	var1 = (int64(c.P9) * (p >> 13) * (p >> 13)) >> 25
	var2 = (int64(c.P8) * p) >> 19
	return (p+var1+var2)>>8 + int64(c.P7)<<4
}

// humidity returns the relative humidity in %RH as Q22.10 (1/1024 %RH),
// clamped to 0..100, as the datasheet's bme280_compensate_H_int32.
func (c *Calibration) humidity(adcH, tFine int32) uint32 {
	x := tFine - 76800
	a := (adcH<<14 - int32(c.H4)<<20 - int32(c.H5)*x + 16384) >> 15
	b := ((((x*int32(c.H6))>>10)*(((x*int32(c.H3))>>11)+32768))>>10 + 2097152) * int32(c.H2)
	v := a * ((b + 8192) >> 14)
	v -= ((((v >> 15) * (v >> 15)) >> 7) * int32(c.H1)) >> 4
	v = max(v, 0)
	v = min(v, 419430400)
	return uint32(v >> 12)
}

// Inverses. Each searches the ADC words that are multiples of step (the
// resolution the oversampling setting gives) for the one whose compensated
// value is nearest the target, relying on the compensation being monotonic
// over the word's range, which it is for every calibration a real chip
// carries (T2, P1 and H2 positive).

// rawTemperature returns the 20-bit word, a multiple of step, that decodes
// nearest to t °C.
func (c *Calibration) rawTemperature(t float64, step int32) int32 {
	return nearest(1<<20, step, t*5120, func(w int32) float64 { return float64(c.tFine(w)) })
}

// rawPressure returns the 20-bit word, a multiple of step, that decodes
// nearest to p hPa at the given t_fine. Pressure falls as the word rises.
func (c *Calibration) rawPressure(p float64, tFine, step int32) int32 {
	return nearest(1<<20, step, -p*100*256, func(w int32) float64 { return -float64(c.pressure64(w, tFine)) })
}

// rawHumidity returns the 16-bit word that decodes nearest to h %RH at the
// given t_fine.
func (c *Calibration) rawHumidity(h float64, tFine int32) int32 {
	return nearest(1<<16, 1, h*1024, func(w int32) float64 { return float64(c.humidity(w, tFine)) })
}

// nearest returns the multiple w of step in [0, n) for which f(w) is
// nearest target, f being non-decreasing.
func nearest(n, step int32, target float64, f func(int32) float64) int32 {
	lo, hi := int32(0), n/step-1 // in units of step
	if f(hi*step) < target {
		return hi * step
	}
	for lo < hi { // first k with f(k*step) >= target
		mid := lo + (hi-lo)/2
		if f(mid*step) >= target {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	if lo > 0 && target-f((lo-1)*step) < f(lo*step)-target {
		lo--
	}
	return lo * step
}
