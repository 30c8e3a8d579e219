package sht4x

import (
	"context"
	"time"

	"periph.io/x/conn/v3/i2c"
)

// NewWithWait is New with wait as how the sensor waits for the chip (the
// soft reset, the measurement), so that tests and benchmarks can drive a
// fake clock from the start.
func NewWithWait(b i2c.Bus, opt Options, wait func(context.Context, time.Duration) error) (*Sensor, error) {
	return open(b, opt, wait)
}

// SetWait replaces how s waits for the chip.
func SetWait(s *Sensor, wait func(ctx context.Context, d time.Duration) error) { s.c.SetWait(wait) }
