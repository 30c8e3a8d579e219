package bme280_test

import (
	"context"
	"errors"
	"math"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2ctest"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/bme280"
	"github.com/tributary-iot/tributary/sensors/sensorstest"
	"github.com/tributary-iot/tributary/sim"
	chip "github.com/tributary-iot/tributary/sim/chip/bme280"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/i2csim/i2csimtest"
)

// ramp is a chip source whose conditions change a little at every
// measurement, as a real chip's noise does, so that the stuck detector
// stays quiet.
type ramp struct{ n atomic.Int64 }

func (r *ramp) source() sim.Conditions {
	n := float64(r.n.Add(1) % 100)
	return sim.Conditions{Temperature: 20 + 0.05*n, Pressure: 1000 + 0.1*n, Humidity: 40 + 0.1*n}
}

// rampChip attaches a BME280 measuring a ramp at 0x76 on a new emulated
// bus and returns a sensor reading it with opt.
func rampChip(t *testing.T, opt bme280.Options) (*i2csim.Bus, *chip.Chip, *bme280.Sensor) {
	t.Helper()
	sb, b := i2csimtest.Open(t)
	var r ramp
	c := chip.New(chip.BME280, r.source)
	sb.Attach(0x76, c)
	s, err := bme280.New(b, opt)
	if err != nil {
		t.Fatal(err)
	}
	return sb, c, s
}

func sample(t *testing.T, ss []sensors.Sample, metric string) (float64, bool) {
	t.Helper()
	for _, s := range ss {
		if s.Metric == metric {
			return s.Value, true
		}
	}
	return 0, false
}

func TestRoundTrip(t *testing.T) {
	conditions := []sim.Conditions{
		{Temperature: 21.37, Pressure: 1013.25, Humidity: 45.5},
		{Temperature: -39.9, Pressure: 300.5, Humidity: 0.5},
		{Temperature: 84.9, Pressure: 1099.5, Humidity: 99.5},
		{Temperature: 0, Pressure: 870.02, Humidity: 12.34},
		{Temperature: -12.34, Pressure: 1050.7, Humidity: 88.8},
		{Temperature: 35.55, Pressure: 950.123, Humidity: 63.21},
	}
	for _, tc := range []struct {
		name         string
		model        chip.Model
		oversampling int
		tolP         float64
	}{
		{"BME280-1x", chip.BME280, 1, 0.016},
		{"BME280-16x", chip.BME280, 16, 0.0012},
		{"BMP280-4x", chip.BMP280, 4, 0.004},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, b := i2csimtest.Open(t)
			c := chip.New(tc.model, nil)
			sb.Attach(0x77, c)
			s, err := bme280.New(b, bme280.Options{Name: "air", Addr: 0x77, Oversampling: tc.oversampling})
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if s.Name() != "air" || s.Model() != tc.model.String() {
				t.Errorf("Name, Model = %q, %q", s.Name(), s.Model())
			}
			for _, x := range conditions {
				c.SetConditions(x)
				ss, err := s.Read(context.Background())
				if err != nil {
					t.Fatalf("%+v: %v", x, err)
				}
				wantMetrics := []string{"temperature", "humidity", "pressure"}
				if tc.model == chip.BMP280 {
					wantMetrics = []string{"temperature", "pressure"}
				}
				if len(ss) != len(wantMetrics) {
					t.Fatalf("%+v: %d samples %v, want %v", x, len(ss), ss, wantMetrics)
				}
				for i, m := range wantMetrics {
					if ss[i].Metric != m {
						t.Errorf("sample %d is %q, want %q", i, ss[i].Metric, m)
					}
					if err := ss[i].Validate(); err != nil {
						t.Error(err)
					}
				}
				check := func(metric, unit string, want, tol float64) {
					for _, smp := range ss {
						if smp.Metric == metric {
							if math.Abs(smp.Value-want) > tol || smp.Unit != unit {
								t.Errorf("%s: got %v %s, want %v %s ± %v", metric, smp.Value, smp.Unit, want, unit, tol)
							}
						}
					}
				}
				check("temperature", "Cel", x.Temperature, 0.008)
				check("pressure", "hPa", x.Pressure, tc.tolP)
				check("humidity", "%", x.Humidity, 0.008)
			}
		})
	}
}

func TestIdentify(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	sb.Attach(0x76, chip.New(chip.BME280, nil))
	sb.Attach(0x77, chip.New(chip.BMP280, nil))
	for _, tc := range []struct {
		addr  uint16
		id    byte // 0: the chip's own
		model string
	}{
		{0x76, 0, "BME280"},
		{0x77, 0, "BMP280"},
		{0x77, 0x56, "BMP280"}, // engineering sample
		{0x77, 0x57, "BMP280"},
		{0x77, 0x55, ""}, // a BMP180
		{0x76, 0xFF, ""}, // something else
	} {
		if tc.id != 0 {
			c := chip.New(chip.BMP280, nil)
			c.SetChipID(tc.id)
			sb.Attach(tc.addr, c)
		}
		got, err := bme280.Identify(b, tc.addr)
		if err != nil || got != tc.model {
			t.Errorf("Identify(%#x) with id %#x = %q, %v; want %q", tc.addr, tc.id, got, err, tc.model)
		}
	}
	_, err := bme280.Identify(b, 0x40)
	if sensors.ErrorKind(err) != "no_device" {
		t.Errorf("Identify at an empty address: %v, want a no_device error", err)
	}
	sb.SetFault(0x76, i2csim.BusError)
	if _, err := bme280.Identify(b, 0x76); sensors.ErrorKind(err) != "bus" {
		t.Errorf("Identify on a failing bus: %v, want a bus error", err)
	}
}

func TestNewErrors(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	sample := chip.New(chip.BMP280, nil)
	sample.SetChipID(0x56)
	sb.Attach(0x77, sample)
	for _, tc := range []struct {
		opt  bme280.Options
		kind string // "" for a configuration error
		text string
	}{
		{bme280.Options{Addr: 0x40}, "other", "0x76 or 0x77"},
		{bme280.Options{Oversampling: 3}, "other", "oversampling 3"},
		{bme280.Options{Name: "bad name"}, "other", "invalid sensor name"},
		{bme280.Options{Addr: 0x76}, "no_device", "no device at address"},
		{bme280.Options{Addr: 0x77}, "no_device", "engineering sample"},
	} {
		s, err := bme280.New(b, tc.opt)
		if err == nil || s != nil {
			t.Errorf("New(%+v) = %v, %v; want an error", tc.opt, s, err)
			continue
		}
		if k := sensors.ErrorKind(err); k != tc.kind || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("New(%+v): %v (kind %s), want kind %s and %q", tc.opt, err, k, tc.kind, tc.text)
		}
	}
}

// Each fault gives its kind of error, and the sensor reads again once the
// fault is gone, without being re-created.
func TestFaults(t *testing.T) {
	const stuckAfter = 4
	for _, tc := range []struct {
		name  string
		set   func(sb *i2csim.Bus, c *chip.Chip)
		clear func(sb *i2csim.Bus, c *chip.Chip)
		kind  string
		after int // reads that still succeed before the error
	}{
		{"no-ack", func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x76, i2csim.NoAck) },
			func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x76, i2csim.OK) }, "no_device", 0},
		{"bus-error", func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x76, i2csim.BusError) },
			func(sb *i2csim.Bus, c *chip.Chip) { sb.SetFault(0x76, i2csim.OK) }, "bus", 0},
		{"stuck", func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.Stuck) },
			func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OK) }, "stuck", stuckAfter - 2},
		{"out-of-range", func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OutOfRange) },
			func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OK) }, "out_of_range", 0},
		{"reset-values", func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.ResetValues) },
			func(sb *i2csim.Bus, c *chip.Chip) { c.SetFault(chip.OK) }, "out_of_range", 0},
		{"power-cycled", func(sb *i2csim.Bus, c *chip.Chip) { c.PowerCycle() },
			func(sb *i2csim.Bus, c *chip.Chip) {}, "out_of_range", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sb, c, s := rampChip(t, bme280.Options{StuckAfter: stuckAfter})
			err := sensorstest.FaultCheck{
				Set:   func() { tc.set(sb, c) },
				Clear: func() { tc.clear(sb, c) },
				Kind:  tc.kind,
				After: tc.after,
				// The humidity proves the chip is configured again after a reset.
				Recovered: func(ss []sensors.Sample) {
					if h, ok := sample(t, ss, "humidity"); !ok || h < 40 || h > 50 {
						t.Errorf("after clearing the fault: humidity %v (%v), want 40..50", h, ok)
					}
				},
			}.Run(t, s)
			t.Logf("%s: %v", tc.name, err)
		})
	}
}

// A chip that never finishes its conversion, on which bmxx80 would wait
// forever, holds Read only until its context ends; the sensor reads again
// once the chip does, and Close does not wait for the chip either.
func TestWedgedChip(t *testing.T) {
	sb, c, s := rampChip(t, bme280.Options{})
	c.SetFault(chip.Wedged)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(ctx)
		done <- err
	}()
	select {
	case err := <-done:
		if k := sensors.ErrorKind(err); k != "timeout" || !strings.Contains(err.Error(), "cut short") {
			t.Fatalf("read of a wedged chip: %v (kind %q), want kind timeout", err, k)
		}
		t.Logf("wedged: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("Read of a wedged chip did not return after its context ended")
	}
	if n := sb.Transactions(0x76); n < 3 {
		t.Fatalf("%d transactions: bmxx80 did not poll the wedged chip", n)
	}

	c.SetFault(chip.OK)
	ss, err := s.Read(context.Background())
	if err != nil {
		t.Fatalf("after the chip recovered: %v", err)
	}
	if h, ok := sample(t, ss, "humidity"); !ok || h < 40 || h > 50 {
		t.Errorf("after the chip recovered: humidity %v (%v), want 40..50", h, ok)
	}
	c.SetFault(chip.Wedged)
	ctx, cancel = context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, err := s.Read(ctx); sensors.ErrorKind(err) != "timeout" {
		t.Fatalf("read of the wedged chip again: %v, want kind timeout", err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close of a wedged chip: %v", err)
	}
}

// A chip unplugged and plugged back in (so power-cycled) is read again by
// the same sensor; so is a BMP280 put in the BME280's place.
func TestDetachReattach(t *testing.T) {
	sb, c, s := rampChip(t, bme280.Options{})
	var r ramp
	ctx := context.Background()
	if _, err := s.Read(ctx); err != nil {
		t.Fatal(err)
	}
	sb.Detach(0x76)
	for range 3 {
		if _, err := s.Read(ctx); sensors.ErrorKind(err) != "no_device" {
			t.Fatalf("detached: %v, want no_device", err)
		}
	}
	c.PowerCycle()
	sb.Attach(0x76, c)
	ss, err := s.Read(ctx)
	if err != nil {
		t.Fatalf("re-attached: %v", err)
	}
	if h, ok := sample(t, ss, "humidity"); !ok || h < 40 || h > 50 {
		t.Errorf("re-attached: humidity %v (%v), want 40..50", h, ok)
	}

	sb.Detach(0x76)
	if _, err := s.Read(ctx); err == nil {
		t.Fatal("detached: no error")
	}
	sb.Attach(0x76, chip.New(chip.BMP280, r.source))
	ss, err = s.Read(ctx)
	if err != nil || len(ss) != 2 || s.Model() != "BMP280" {
		t.Fatalf("BMP280 in its place: %v, %v, model %s; want temperature and pressure", ss, err, s.Model())
	}
}

// closeRecorder is a bus that records whether someone closed it.
type closeRecorder struct {
	i2c.Bus
	closed bool
}

func (c *closeRecorder) Close() error { c.closed = true; return nil }

func TestClose(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	var r ramp
	sb.Attach(0x76, chip.New(chip.BME280, r.source))
	rec := &closeRecorder{Bus: b}
	s, err := bme280.New(rec, bme280.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Read(context.Background()); err == nil {
		t.Error("Read after Close succeeded")
	}
	if rec.closed {
		t.Error("the sensor closed the bus it borrowed")
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s2, err := bme280.New(b, bme280.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s2.Read(ctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Read with a cancelled context: %v", err)
	}
}

// The bytes on the wire for New and one Read, pinned with periph's
// i2ctest.Playback: the datasheet's calibration and worked example (adc_T
// 519888, adc_P 415148), decoded by the real driver, checked against the
// datasheet's floating-point formulas.
func TestTranscript(t *testing.T) {
	calib := []byte{
		0x70, 0x6B, 0x43, 0x67, 0x18, 0xFC, // T1 27504, T2 26435, T3 -1000
		0x7D, 0x8E, 0x43, 0xD6, 0xD0, 0x0B, 0x27, 0x0B, 0x8C, 0x00, // P1..P5
		0xF9, 0xFF, 0x8C, 0x3C, 0xF8, 0xC6, 0x70, 0x17, // P6..P9
		0x00, 0x4B, // reserved, H1 75
	}
	calibH := []byte{0x6E, 0x01, 0x00, 0x13, 0x05, 0x00, 0x1E} // H2 366, H3 0, H4 309, H5 0, H6 30
	data := []byte{0x65, 0x5A, 0xC0, 0x7E, 0xED, 0x00, 0x66, 0x66}
	bus := &i2ctest.Playback{Ops: []i2ctest.IO{
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}}, // Identify
		{Addr: 0x76, W: []byte{0xD0}, R: []byte{0x60}}, // bmxx80's own
		{Addr: 0x76, W: []byte{0x88}, R: calib},
		{Addr: 0x76, W: []byte{0xE1}, R: calibH},
		// sleep with 1x oversampling, ctrl_hum 1x, config standby 1 s, ctrl_meas again
		{Addr: 0x76, W: []byte{0xF4, 0x24, 0xF2, 0x01, 0xF5, 0xA0, 0xF4, 0x24}},
		// Read: forced mode, status idle, data, then data again with the control registers
		{Addr: 0x76, W: []byte{0xF4, 0x25}},
		{Addr: 0x76, W: []byte{0xF3}, R: []byte{0x00}},
		{Addr: 0x76, W: []byte{0xF7}, R: data},
		{Addr: 0x76, W: []byte{0xF2}, R: append([]byte{0x01, 0x00, 0x24, 0xA0, 0x00}, data...)},
	}}
	s, err := bme280.New(bus, bme280.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := s.Read(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if err := bus.Close(); err != nil {
		t.Fatal(err)
	}
	temp, hum, press := datasheetFloat(519888, 415148, 0x6666)
	for _, tc := range []struct {
		metric    string
		want, tol float64
	}{
		{"temperature", temp, 0.005}, // 25.08 °C
		{"pressure", press / 100, 0.0005},
		{"humidity", hum, 0.005},
	} {
		if got, ok := sample(t, ss, tc.metric); !ok || math.Abs(got-tc.want) > tc.tol {
			t.Errorf("%s = %v, want %.4f", tc.metric, got, tc.want)
		}
	}
	if math.Abs(temp-25.08) > 0.005 || math.Abs(press-100653.27) > 0.01 {
		t.Errorf("datasheet example: %.3f °C %.2f Pa, want 25.08 °C 100653.27 Pa", temp, press)
	}
}

// datasheetFloat is the BME280 datasheet's floating-point compensation
// (section 8.1) for the calibration of TestTranscript: °C, %RH, Pa.
func datasheetFloat(adcT, adcP, adcH float64) (float64, float64, float64) {
	const (
		T1, T2, T3                         = 27504.0, 26435.0, -1000.0
		P1, P2, P3, P4, P5, P6, P7, P8, P9 = 36477.0, -10685.0, 3024.0, 2855.0, 140.0, -7.0, 15500.0, -14600.0, 6000.0
		H1, H2, H3, H4, H5, H6             = 75.0, 366.0, 0.0, 309.0, 0.0, 30.0
	)
	v1 := (adcT/16384 - T1/1024) * T2
	v2 := (adcT/131072 - T1/8192) * (adcT/131072 - T1/8192) * T3
	tFine := v1 + v2
	temp := tFine / 5120

	v1 = tFine/2 - 64000
	v2 = v1 * v1 * P6 / 32768
	v2 += v1 * P5 * 2
	v2 = v2/4 + P4*65536
	v1 = (P3*v1*v1/524288 + P2*v1) / 524288
	v1 = (1 + v1/32768) * P1
	p := 1048576 - adcP
	p = (p - v2/4096) * 6250 / v1
	v1 = P9 * p * p / 2147483648
	v2 = p * P8 / 32768
	p += (v1 + v2 + P7) / 16

	h := tFine - 76800
	h = (adcH - (H4*64 + H5/16384*h)) * (H2 / 65536 * (1 + H6/67108864*h*(1+H3/67108864*h)))
	h *= 1 - H1*h/524288
	return temp, min(max(h, 0), 100), p
}

func BenchmarkRead(b *testing.B) {
	for _, os := range []int{1, 16} {
		b.Run(map[int]string{1: "1x", 16: "16x"}[os], func(b *testing.B) {
			sb, bus := i2csimtest.Open(b)
			sb.Attach(0x76, chip.NewClimate(chip.BME280, sim.NewClimate(sim.ClimateOptions{Seed: 1}), nil))
			s, err := bme280.New(bus, bme280.Options{Oversampling: os})
			if err != nil {
				b.Fatal(err)
			}
			ctx := context.Background()
			for b.Loop() {
				if _, err := s.Read(ctx); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// Constant conditions give constant words: stuck after StuckAfter reads,
// never with a negative StuckAfter.
func TestStuckAfter(t *testing.T) {
	sb, b := i2csimtest.Open(t)
	sb.Attach(0x76, chip.New(chip.BME280, nil)) // fixed conditions
	ctx := context.Background()
	on, err := bme280.New(b, bme280.Options{StuckAfter: 3})
	if err != nil {
		t.Fatal(err)
	}
	off, err := bme280.New(b, bme280.Options{StuckAfter: -1})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		_, err := on.Read(ctx)
		if got, want := sensors.ErrorKind(err), map[bool]string{true: "stuck", false: ""}[i >= 2]; got != want {
			t.Errorf("StuckAfter 3, read %d: %v, want kind %q", i+1, err, want)
		}
		if _, err := off.Read(ctx); err != nil {
			t.Errorf("StuckAfter -1, read %d: %v", i+1, err)
		}
	}
}
