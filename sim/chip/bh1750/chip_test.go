package bh1750

import (
	"sync"
	"testing"
)

func tx(t *testing.T, c *Chip, w []byte, n int) []byte {
	t.Helper()
	r := make([]byte, n)
	if err := c.Tx(w, r); err != nil {
		t.Fatalf("Tx(% x, %d): %v", w, n, err)
	}
	return r
}

func counts(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// The datasheet's conversion: counts = lx × 1.2 × MTreg/69 (×2 in mode H2).
func TestCounts(t *testing.T) {
	for _, tc := range []struct {
		lx    float64
		op    byte
		mtreg byte
		want  uint16
	}{
		{100, OpOnceHigh, 69, 120},
		{100, OpOnceHigh2, 69, 240},
		{100, OpOnceLow, 69, 120},
		{101, OpOnceLow, 69, 120}, // 121.2 counts: L mode keeps multiples of 4
		{1000, OpOnceHigh, 138, 2400},
		{1000, OpOnceHigh, 31, 539},     // 539.13
		{0.4, OpOnceHigh2, 254, 4},      // 3.53: dim light, highest sensitivity
		{60000, OpOnceHigh, 69, 0xFFFF}, // saturates
		{-5, OpOnceHigh, 69, 0},
		{500, OpContHigh, 69, 600},
	} {
		c := New(Fixed(tc.lx))
		tx(t, c, []byte{OpPowerOn, OpMTregHigh | tc.mtreg>>5, OpMTregLow | tc.mtreg&0x1F}, 0)
		if c.MTreg() != tc.mtreg {
			t.Fatalf("MTreg %d, want %d", c.MTreg(), tc.mtreg)
		}
		tx(t, c, []byte{tc.op}, 0)
		if got := counts(tx(t, c, nil, 2)); got != tc.want {
			t.Errorf("%v lx, opcode %#x, MTreg %d: %d counts, want %d", tc.lx, tc.op, tc.mtreg, got, tc.want)
		}
	}
}

func TestStates(t *testing.T) {
	c := New(Fixed(100))
	if c.Powered() || c.MTreg() != DefaultMTreg || c.Counts() != 0 {
		t.Fatalf("power-on state: powered %v, MTreg %d, data %d", c.Powered(), c.MTreg(), c.Counts())
	}
	// One-time: one measurement, then power down; the data stays readable.
	tx(t, c, []byte{OpOnceHigh}, 0)
	if c.Powered() || c.Measurements() != 1 {
		t.Errorf("after one-time: powered %v, %d measurements", c.Powered(), c.Measurements())
	}
	c.SetLux(200)
	if got := counts(tx(t, c, nil, 2)); got != 120 {
		t.Errorf("read after one-time: %d counts, want the measurement's 120", got)
	}
	// Reset is ignored while powered down, clears the data once powered on.
	tx(t, c, []byte{OpReset}, 0)
	if c.Counts() != 120 {
		t.Errorf("reset while powered down cleared the data")
	}
	tx(t, c, []byte{OpPowerOn, OpReset}, 0)
	if c.Counts() != 0 || !c.Powered() {
		t.Errorf("reset while powered on: data %d, powered %v", c.Counts(), c.Powered())
	}
	// Continuous: every read measures, until power down.
	tx(t, c, []byte{OpContHigh}, 0)
	c.SetLux(300)
	if got := counts(tx(t, c, nil, 2)); got != 360 {
		t.Errorf("continuous: %d counts, want 360", got)
	}
	tx(t, c, []byte{OpPowerDown}, 0)
	c.SetLux(400)
	if got := counts(tx(t, c, nil, 3)); got != 360 || c.Powered() {
		t.Errorf("after power down: %d counts, powered %v; want the last 360", got, c.Powered())
	}
	if b := tx(t, c, nil, 4); b[2] != 0xFF || b[3] != 0xFF {
		t.Errorf("bytes beyond the data register: % x, want ff ff", b[2:])
	}
	// Power cycle: back to the power-on state.
	tx(t, c, []byte{OpMTregHigh | 7, OpMTregLow | 0x1E}, 0)
	c.PowerCycle()
	if c.Powered() || c.MTreg() != DefaultMTreg || c.Counts() != 0 {
		t.Errorf("after a power cycle: powered %v, MTreg %d, data %d", c.Powered(), c.MTreg(), c.Counts())
	}
	tx(t, c, []byte{0x55}, 0) // not an opcode: ignored
	if c.Powered() || c.Measurements() != 3 {
		t.Errorf("unknown opcode changed the state")
	}
}

func TestFaults(t *testing.T) {
	c := New(Fixed(100))
	tx(t, c, []byte{OpOnceHigh}, 0)
	c.SetFault(Stuck)
	c.SetLux(500)
	tx(t, c, []byte{OpOnceHigh}, 0)
	if got := c.Counts(); got != 120 {
		t.Errorf("stuck: %d counts, want the last 120", got)
	}
	c.SetFault(OutOfRange)
	tx(t, c, []byte{OpOnceHigh}, 0)
	if got := counts(tx(t, c, nil, 2)); got != 0xFFFF {
		t.Errorf("out of range: %#x, want 0xffff", got)
	}
	if c.Fault() != OutOfRange {
		t.Errorf("Fault() = %v", c.Fault())
	}
	c.SetFault(OK)
	tx(t, c, []byte{OpOnceHigh}, 0)
	if got := c.Counts(); got != 600 {
		t.Errorf("fault cleared: %d counts, want 600", got)
	}
}

func TestConcurrent(t *testing.T) {
	c := New(nil)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range 300 {
			c.SetFault(Fault(i % 3))
			c.SetLux(float64(i))
		}
	}()
	for range 300 {
		tx(t, c, []byte{OpOnceHigh}, 0)
		tx(t, c, nil, 2)
	}
	wg.Wait()
	if c.Measurements() != 300 {
		t.Errorf("%d measurements, want 300", c.Measurements())
	}
}
