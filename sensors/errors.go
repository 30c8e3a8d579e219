package sensors

import (
	"context"
	"errors"
	"strings"
	"syscall"
)

// The kinds of read error. A driver wraps one of these (with %w) in the
// error it returns, so that the agent can count errors per kind and decide
// how to retry, whatever the chip:
//
//	return nil, fmt.Errorf("sht3x: read: %w: %w", sensors.ErrCRC, err)
var (
	// ErrNoDevice: nothing answers at the sensor's address or path: the
	// chip is missing, unpowered, or wired to other pins.
	ErrNoDevice = errors.New("no device at address")
	// ErrBus: the transfer failed on the wire (an I²C bus error, a 1-wire
	// read failure).
	ErrBus = errors.New("bus error")
	// ErrCRC: the chip answered, but its data failed the checksum.
	ErrCRC = errors.New("CRC mismatch")
	// ErrOutOfRange: the chip answered with a value it cannot measure (out
	// of its datasheet range, or a power-on reset value).
	ErrOutOfRange = errors.New("value out of the chip's range")
	// ErrStuck: the chip keeps answering with the very same raw value,
	// beyond what its noise makes believable.
	ErrStuck = errors.New("stuck value")
)

// ErrorKind names the kind of a read error for metrics and health: one of
// "no_device", "bus", "crc", "out_of_range", "stuck", "timeout" (the read
// outlived its context) or "other".
func ErrorKind(err error) string {
	switch {
	case err == nil:
		return ""
	case errors.Is(err, ErrNoDevice):
		return "no_device"
	case errors.Is(err, ErrBus):
		return "bus"
	case errors.Is(err, ErrCRC):
		return "crc"
	case errors.Is(err, ErrOutOfRange):
		return "out_of_range"
	case errors.Is(err, ErrStuck):
		return "stuck"
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	}
	return "other"
}

// ErrorKinds lists every value ErrorKind returns for an error, for
// pre-declaring metric label values.
var ErrorKinds = []string{"no_device", "bus", "crc", "out_of_range", "stuck", "timeout", "other"}

// I2CError classifies err, an error from an i2c.Bus transaction, as
// ErrNoDevice (the address was not acknowledged) or ErrBus (anything else on
// the wire), and wraps it so that both the kind and the cause show:
// "no device at address: sysfs-i2c: remote I/O error". It returns nil for
// nil and err itself if it already has a kind.
//
// periph's Linux driver reports the ioctl's errno as text only, so the
// errno is matched both with errors.Is and by its message.
func I2CError(err error) error {
	if err == nil {
		return nil
	}
	if k := ErrorKind(err); k != "other" {
		return err
	}
	if isErrno(err, syscall.EREMOTEIO) || isErrno(err, syscall.ENXIO) || isErrno(err, syscall.ENODEV) || isErrno(err, syscall.ENOENT) {
		return &kindError{kind: ErrNoDevice, err: err}
	}
	return &kindError{kind: ErrBus, err: err}
}

func isErrno(err error, e syscall.Errno) bool {
	return errors.Is(err, e) || strings.Contains(err.Error(), e.Error())
}

// kindError is err, classified as kind.
type kindError struct {
	kind error
	err  error
}

func (e *kindError) Error() string   { return e.kind.Error() + ": " + e.err.Error() }
func (e *kindError) Unwrap() []error { return []error{e.kind, e.err} }
