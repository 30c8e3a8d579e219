package sensors

import (
	"context"
	"errors"
	"fmt"
	"syscall"
	"testing"
)

func TestErrorKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want string
	}{
		{nil, ""},
		{fmt.Errorf("sht3x: %w", ErrCRC), "crc"},
		{fmt.Errorf("bme280: %w", ErrOutOfRange), "out_of_range"},
		{I2CError(errors.New("sysfs-i2c: remote I/O error")), "no_device"},
		{I2CError(fmt.Errorf("x: %w", syscall.ENXIO)), "no_device"},
		{I2CError(errors.New("sysfs-i2c: input/output error")), "bus"},
		{I2CError(fmt.Errorf("wrapped: %w", ErrCRC)), "crc"},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), "timeout"},
		{errors.New("something"), "other"},
	} {
		if got := ErrorKind(tc.err); got != tc.want {
			t.Errorf("ErrorKind(%v) = %q, want %q", tc.err, got, tc.want)
		}
	}
	err := I2CError(errors.New("sysfs-i2c: remote I/O error"))
	if got, want := err.Error(), "no device at address: sysfs-i2c: remote I/O error"; got != want {
		t.Errorf("I2CError text = %q, want %q", got, want)
	}
	if I2CError(nil) != nil {
		t.Error("I2CError(nil) != nil")
	}
}

func TestStuckDetector(t *testing.T) {
	d := NewStuckDetector(3)
	for i, tc := range []struct {
		raw   []uint64
		stuck bool
	}{
		{[]uint64{1, 2}, false},
		{[]uint64{1, 2}, false},
		{[]uint64{1, 2}, true},
		{[]uint64{1, 2}, true},
		{[]uint64{1, 3}, false},
		{[]uint64{1, 3}, false},
	} {
		err := d.Check(tc.raw...)
		if got := errors.Is(err, ErrStuck); got != tc.stuck {
			t.Fatalf("read %d %v: stuck = %v (%v), want %v", i, tc.raw, got, err, tc.stuck)
		}
	}
	d.Reset()
	if err := d.Check(1, 3); err != nil {
		t.Fatalf("after Reset: %v", err)
	}
}

func TestStuckDetectorOff(t *testing.T) {
	d := NewStuckDetector(-1)
	for range 1000 {
		if err := d.Check(7); err != nil {
			t.Fatalf("a detector turned off reported %v", err)
		}
	}
	d.Reset()
}
