package bme280

import (
	"math"
	"sync"
	"testing"

	"github.com/tributary-iot/tributary/sim"
)

// The worked example of the BMP280 datasheet (section 3.12), with its
// calibration: the compensation the emulator inverts is the datasheet's.
func TestDatasheetExample(t *testing.T) {
	cal := DatasheetCalibration()
	tf := cal.tFine(519888)
	if tf != 128422 {
		t.Errorf("t_fine(519888) = %d, want 128422", tf)
	}
	if got := temperature(tf); got != 2508 {
		t.Errorf("T(519888) = %d centi-°C, want 2508", got)
	}
	if got := float64(cal.pressure(415148, tf)) / 256; math.Abs(got-100653.27) > 0.05 {
		t.Errorf("P(415148) = %.3f Pa, want 100653.27", got)
	}
}

// Every physical value in the chip's range survives the trip to an ADC word
// and back through the datasheet's compensation, within the resolution of
// the oversampling setting.
func TestInverse(t *testing.T) {
	for _, cal := range []Calibration{DatasheetCalibration(), realChip()} {
		for _, tc := range []struct {
			osrs        byte
			tolT, tolP  float64 // °C, hPa
			tolH        float64 // %RH
			description string
		}{
			{1, 0.008, 0.016, 0.007, "1x"},
			{5, 0.008, 0.001, 0.007, "16x"},
		} {
			st := step(tc.osrs)
			for temp := -40.0; temp <= 85; temp += 0.37 {
				raw := cal.rawTemperature(temp, st)
				if raw%st != 0 {
					t.Fatalf("%s: word %#x for %.2f °C not a multiple of %d", tc.description, raw, temp, st)
				}
				tf := cal.tFine(raw)
				if got := float64(temperature(tf)) / 100; math.Abs(got-temp) > tc.tolT {
					t.Fatalf("%s: %.3f °C -> %#x -> %.3f °C", tc.description, temp, raw, got)
				}
				for press := 300.0; press <= 1100; press += 13.7 {
					rp := cal.rawPressure(press, tf, st)
					if got := float64(cal.pressure(rp, tf)) / 25600; math.Abs(got-press) > tc.tolP {
						t.Fatalf("%s at %.2f °C: %.4f hPa -> %#x -> %.4f hPa", tc.description, temp, press, rp, got)
					}
				}
				for hum := 0.0; hum <= 100; hum += 3.3 {
					rh := cal.rawHumidity(hum, tf)
					if got := float64(cal.humidity(rh, tf)) / 1024; math.Abs(got-hum) > tc.tolH {
						t.Fatalf("%s at %.2f °C: %.3f %%RH -> %#x -> %.4f %%RH", tc.description, temp, hum, rh, got)
					}
				}
			}
		}
	}
}

// realChip is the calibration of a real BME280 (recorded in periph's
// bmxx80 tests), with H3 and H5 set so that their terms are exercised.
func realChip() Calibration {
	return Calibration{
		T1: 28176, T2: 26220, T3: 350,
		P1: 38237, P2: -10824, P3: 3024, P4: 7799, P5: -99, P6: -7, P7: 9900, P8: -10230, P9: 4285,
		H1: 75, H2: 366, H3: 12, H4: 309, H5: 50, H6: 30,
	}
}

// tx runs one transaction and fails the test on error.
func tx(t *testing.T, c *Chip, w []byte, n int) []byte {
	t.Helper()
	r := make([]byte, n)
	if err := c.Tx(w, r); err != nil {
		t.Fatalf("Tx(% x, %d): %v", w, n, err)
	}
	return r
}

// words decodes the data registers as a driver does.
func words(d []byte) (p, temp, h int32) {
	p = int32(d[0])<<12 | int32(d[1])<<4 | int32(d[2])>>4
	temp = int32(d[3])<<12 | int32(d[4])<<4 | int32(d[5])>>4
	if len(d) > 6 {
		h = int32(d[6])<<8 | int32(d[7])
	}
	return p, temp, h
}

func TestRegisters(t *testing.T) {
	c := New(BME280, nil)
	if id := tx(t, c, []byte{regChipID}, 1)[0]; id != 0x60 {
		t.Errorf("chip id %#x, want 0x60", id)
	}
	// Power-on: the data registers hold their reset values.
	p, temp, h := words(tx(t, c, []byte{regData}, 8))
	if p != ResetWord20 || temp != ResetWord20 || h != ResetWord16 {
		t.Errorf("reset data words %#x %#x %#x", p, temp, h)
	}
	// The calibration reads back as the datasheet lays it out, in two
	// auto-incrementing bursts.
	tph := tx(t, c, []byte{regCalib0}, 26)
	hb := tx(t, c, []byte{regCalibH}, 7)
	cal := DatasheetCalibration()
	le := func(i int) uint16 { return uint16(tph[i]) | uint16(tph[i+1])<<8 }
	if le(0) != cal.T1 || int16(le(2)) != cal.T2 || int16(le(4)) != cal.T3 || le(6) != cal.P1 || int16(le(22)) != cal.P9 || tph[25] != cal.H1 {
		t.Errorf("calibration bytes % x do not decode to %+v", tph, cal)
	}
	h4 := int16(hb[3])<<4 | int16(hb[4])&0xF
	h5 := int16(hb[4])>>4 | int16(hb[5])<<4
	if int16(hb[0])|int16(hb[1])<<8 != cal.H2 || hb[2] != cal.H3 || h4 != cal.H4 || h5 != cal.H5 || int8(hb[6]) != cal.H6 {
		t.Errorf("humidity calibration % x does not decode to %+v", hb, cal)
	}
	// A read without a register address continues from the pointer.
	tx(t, c, []byte{regChipID}, 0)
	if id := tx(t, c, nil, 1)[0]; id != 0x60 {
		t.Errorf("read at pointer: %#x, want the chip id", id)
	}
}

func TestForcedMeasurement(t *testing.T) {
	want := sim.Conditions{Temperature: 23.45, Pressure: 987.65, Humidity: 61.2}
	c := New(BME280, Fixed(want))
	// As bmxx80 configures it: humidity 1x, then ctrl_meas forced with
	// temperature and pressure 1x.
	tx(t, c, []byte{regCtrlHum, 1, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0)
	if c.Measurements() != 1 {
		t.Fatalf("%d measurements, want 1", c.Measurements())
	}
	if m := tx(t, c, []byte{regCtrlMeas}, 1)[0]; m&3 != modeSleep {
		t.Errorf("ctrl_meas %#x after a forced measurement, want sleep mode", m)
	}
	if s := tx(t, c, []byte{regStatus}, 1)[0]; s != 0 {
		t.Errorf("status %#x, want idle", s)
	}
	p, temp, h := words(tx(t, c, []byte{regData}, 8))
	cal := DatasheetCalibration()
	tf := cal.tFine(temp)
	if temp%16 != 0 || p%16 != 0 {
		t.Errorf("words %#x %#x have more than the 16 bits of 1x oversampling", temp, p)
	}
	if got := float64(temperature(tf)) / 100; math.Abs(got-want.Temperature) > 0.01 {
		t.Errorf("temperature %.2f, want %.2f", got, want.Temperature)
	}
	if got := float64(cal.pressure(p, tf)) / 25600; math.Abs(got-want.Pressure) > 0.02 {
		t.Errorf("pressure %.3f, want %.2f", got, want.Pressure)
	}
	if got := float64(cal.humidity(h, tf)) / 1024; math.Abs(got-want.Humidity) > 0.01 {
		t.Errorf("humidity %.3f, want %.2f", got, want.Humidity)
	}
}

// ctrl_hum takes effect only at the next ctrl_meas write; a skipped channel
// keeps its reset value.
func TestSkippedAndLatched(t *testing.T) {
	c := New(BME280, nil)
	tx(t, c, []byte{regCtrlMeas, 1<<5 | 0<<2 | 1}, 0) // pressure skipped, ctrl_hum 0
	p, temp, h := words(tx(t, c, []byte{regData}, 8))
	if p != ResetWord20 || h != ResetWord16 || temp == ResetWord20 {
		t.Errorf("pressure and humidity skipped: words %#x %#x %#x", p, temp, h)
	}
	tx(t, c, []byte{regCtrlHum, 1}, 0)
	if _, _, h := c.ADC(); h != ResetWord16 {
		t.Errorf("humidity measured before ctrl_meas was written")
	}
	tx(t, c, []byte{regCtrlMeas, 1<<5 | 1<<2 | 2}, 0) // mode 10 is forced too
	if p, _, h := c.ADC(); p == ResetWord20 || h == ResetWord16 {
		t.Errorf("after ctrl_meas: words %#x %#x, want measured", p, h)
	}
}

func TestResetAndPowerCycle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		reset func(c *Chip)
	}{
		{"soft reset", func(c *Chip) { tx(t, c, []byte{regReset, resetMagic}, 0) }},
		{"power cycle", func(c *Chip) { c.PowerCycle() }},
	} {
		c := New(BME280, nil)
		tx(t, c, []byte{regCtrlHum, 1, regConfig, 0xA0, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0)
		tx(t, c, []byte{regReset, 0x12}, 0) // not the magic value: ignored
		if c.ctrlHum != 1 {
			t.Fatalf("%s: a reset write of 0x12 reset the chip", tc.name)
		}
		tc.reset(c)
		got := tx(t, c, []byte{regCtrlHum}, 4) // ctrl_hum, status, ctrl_meas, config
		if got[0] != 0 || got[2] != 0 || got[3] != 0 {
			t.Errorf("%s: control registers % x, want 0", tc.name, got)
		}
		if p, temp, h := c.ADC(); p != ResetWord20 || temp != ResetWord20 || h != ResetWord16 {
			t.Errorf("%s: data words %#x %#x %#x, want reset values", tc.name, p, temp, h)
		}
	}
}

func TestFaults(t *testing.T) {
	c := New(BME280, nil)
	force := func() (int32, int32, int32) {
		tx(t, c, []byte{regCtrlHum, 1, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0)
		return words(tx(t, c, []byte{regData}, 8))
	}
	p0, t0, h0 := force()

	c.SetFault(Stuck)
	c.SetConditions(sim.Conditions{Temperature: 30, Pressure: 900, Humidity: 20})
	if p, temp, h := force(); p != p0 || temp != t0 || h != h0 {
		t.Errorf("stuck: words changed to %#x %#x %#x", p, temp, h)
	}

	c.SetFault(OutOfRange)
	p, temp, _ := force()
	cal := DatasheetCalibration()
	tf := cal.tFine(temp)
	if got := float64(temperature(tf)) / 100; math.Abs(got-OutOfRangeTemperature) > 0.01 {
		t.Errorf("out of range: temperature %.2f", got)
	}
	if got := float64(cal.pressure(p, tf)) / 25600; math.Abs(got-OutOfRangePressure) > 0.02 {
		t.Errorf("out of range: pressure %.2f", got)
	}

	c.SetFault(ResetValues)
	if p, temp, h := force(); p != ResetWord20 || temp != ResetWord20 || h != ResetWord16 {
		t.Errorf("reset values: words %#x %#x %#x", p, temp, h)
	}
	if c.Fault() != ResetValues {
		t.Errorf("Fault() = %v", c.Fault())
	}

	c.SetFault(OK)
	if _, temp, _ := force(); temperature(cal.tFine(temp)) != 3000 {
		t.Errorf("fault cleared: temperature word %#x does not decode to 30 °C", temp)
	}
}

// A Wedged chip never finishes a conversion until the fault is cleared
// (the conversion then completes) or the chip is reset.
func TestWedged(t *testing.T) {
	c := New(BME280, nil)
	force := func() { tx(t, c, []byte{regCtrlHum, 1, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0) }
	force()
	p0, t0, h0 := c.ADC()
	c.SetFault(Wedged)
	c.SetConditions(sim.Conditions{Temperature: 30, Pressure: 900, Humidity: 20})
	if s := tx(t, c, []byte{regStatus}, 1)[0]; s != 0 {
		t.Fatalf("status %#x before a measurement was started, want idle", s)
	}
	force()
	for range 3 {
		if s := tx(t, c, []byte{regStatus}, 1)[0]; s&statusMeasuring == 0 {
			t.Fatalf("wedged: status %#x, want measuring", s)
		}
	}
	// bmxx80 reads ctrl_hum..config in one burst: status is the second byte.
	if b := tx(t, c, []byte{regCtrlHum}, 4); b[1] != statusMeasuring {
		t.Fatalf("wedged: burst from ctrl_hum % x, want status %#x", b, statusMeasuring)
	}
	if p, temp, h := c.ADC(); p != p0 || temp != t0 || h != h0 || c.Measurements() != 1 {
		t.Fatalf("wedged: words %#x %#x %#x after %d measurements, want the first one's", p, temp, h, c.Measurements())
	}

	c.SetFault(OK)
	if s := tx(t, c, []byte{regStatus}, 1)[0]; s != 0 {
		t.Fatalf("fault cleared: status %#x, want idle", s)
	}
	cal := DatasheetCalibration()
	if _, temp, _ := c.ADC(); temperature(cal.tFine(temp)) != 3000 || c.Measurements() != 2 {
		t.Fatalf("fault cleared: temperature word %#x, %d measurements; want the hung one completed at 30 °C", temp, c.Measurements())
	}

	c.SetFault(Wedged)
	force()
	tx(t, c, []byte{regReset, resetMagic}, 0)
	if s := tx(t, c, []byte{regStatus}, 1)[0]; s != 0 {
		t.Fatalf("after a soft reset: status %#x, want idle", s)
	}
	if c.Fault() != Wedged || c.Fault().String() != "wedged" {
		t.Fatalf("Fault() = %v", c.Fault())
	}
}

func TestBMP280(t *testing.T) {
	c := New(BMP280, nil)
	if id := tx(t, c, []byte{regChipID}, 1)[0]; id != 0x58 {
		t.Errorf("chip id %#x, want 0x58", id)
	}
	tx(t, c, []byte{regCtrlHum, 5, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0)
	if v := tx(t, c, []byte{regCtrlHum}, 1)[0]; v != 0 {
		t.Errorf("BMP280 ctrl_hum reads %#x, want 0 (no such register)", v)
	}
	d := tx(t, c, []byte{regData}, 8)
	if d[6] != 0 || d[7] != 0 {
		t.Errorf("BMP280 humidity registers % x, want 0", d[6:])
	}
	if h := tx(t, c, []byte{regCalibH}, 7); h[0]|h[1]|h[3] != 0 {
		t.Errorf("BMP280 humidity calibration % x, want 0", h)
	}
	c.SetChipID(0x56)
	if id := tx(t, c, []byte{regChipID}, 1)[0]; id != 0x56 {
		t.Errorf("chip id %#x after SetChipID(0x56)", id)
	}
}

// In normal mode every read of the data registers measures afresh.
func TestNormalMode(t *testing.T) {
	c := New(BME280, Fixed(sim.Conditions{Temperature: 10, Pressure: 1000, Humidity: 40}))
	tx(t, c, []byte{regCtrlHum, 1, regConfig, 0xA0, regCtrlMeas, 5<<5 | 5<<2 | modeNormal}, 0)
	_, t1, _ := words(tx(t, c, []byte{regData}, 8))
	c.SetConditions(sim.Conditions{Temperature: 11, Pressure: 1000, Humidity: 40})
	_, t2, _ := words(tx(t, c, []byte{regData}, 8))
	cal := DatasheetCalibration()
	if temperature(cal.tFine(t1)) != 1000 || temperature(cal.tFine(t2)) != 1100 {
		t.Errorf("normal mode: %d then %d centi-°C, want 1000 then 1100", temperature(cal.tFine(t1)), temperature(cal.tFine(t2)))
	}
	// Reading other registers does not measure.
	n := c.Measurements()
	tx(t, c, []byte{regChipID}, 1)
	if c.Measurements() != n {
		t.Errorf("reading the chip id took a measurement")
	}
}

// Faults and conditions can change while a driver reads (run with -race).
func TestConcurrent(t *testing.T) {
	c := New(BME280, nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 200 {
			c.SetFault(Fault(i % 4))
			c.SetConditions(sim.Conditions{Temperature: float64(i % 40), Pressure: 1000, Humidity: 50})
		}
	}()
	for range 200 {
		tx(t, c, []byte{regCtrlHum, 1, regCtrlMeas, 1<<5 | 1<<2 | 1}, 0)
		tx(t, c, []byte{regData}, 8)
	}
	wg.Wait()
	if c.Measurements() != 200 {
		t.Errorf("%d measurements, want 200", c.Measurements())
	}
}

func BenchmarkMeasure(b *testing.B) {
	c := New(BME280, nil)
	w := []byte{regCtrlHum, 1, regCtrlMeas, 1<<5 | 1<<2 | 1}
	r := make([]byte, 8)
	for b.Loop() {
		if err := c.Tx(w, nil); err != nil {
			b.Fatal(err)
		}
		if err := c.Tx([]byte{regData}, r); err != nil {
			b.Fatal(err)
		}
	}
}
