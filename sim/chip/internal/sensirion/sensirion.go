// Package sensirion holds what the emulated Sensirion chips (sim/chip/sht3x,
// sim/chip/sht4x) share: the data a command leaves for the next read (words
// with their CRC-8, readable once, not before the chip is done), the NACK
// that Linux reports as EREMOTEIO, and the raw words' rounding. Its CRC-8
// is written apart from the drivers' (sensors/internal/sensirion),
// table-driven, so that the emulators check the drivers instead of sharing
// a mistake.
package sensirion

import (
	"fmt"
	"math"
	"syscall"
	"time"
)

// Output is the data an emulated chip has for its next read. The zero value
// has none. It is not safe for concurrent use: the chip's lock guards it.
type Output struct {
	Model string // the chip, for NACK messages: "SHT3x"

	data    []byte // nil: nothing to read
	readyAt time.Time
}

// Send makes words, each followed by its CRC (a wrong one with badCRC), the
// data of the next read, readable from ready on.
func (o *Output) Send(ready time.Time, badCRC bool, words ...uint16) {
	o.data = make([]byte, 0, 3*len(words))
	for _, w := range words {
		b := [2]byte{byte(w >> 8), byte(w)}
		crc := CRC8(b[:])
		if badCRC {
			crc ^= 0x01
		}
		o.data = append(o.data, b[0], b[1], crc)
	}
	o.readyAt = ready
}

// Clear drops the data, as a soft reset does.
func (o *Output) Clear() { o.data = nil }

// Read fills r at now with the data, once: a read with no data, or before
// it is ready, is not acknowledged. Bytes past the data read 0xFF.
func (o *Output) Read(now time.Time, r []byte) error {
	if o.data == nil {
		return o.Nack("no data: no measurement or read-out command before the read")
	}
	if now.Before(o.readyAt) {
		return o.Nack(fmt.Sprintf("data not ready for another %s", o.readyAt.Sub(now)))
	}
	n := copy(r, o.data)
	for i := n; i < len(r); i++ {
		r[i] = 0xFF // the chip drives nothing past its data; pull-ups read high
	}
	o.data = nil // data is read out once
	return nil
}

// Nack is a transfer the chip did not acknowledge, for why.
func (o *Output) Nack(why string) error { return &nackError{model: o.Model, why: why} }

// nackError is a transfer the chip did not acknowledge. Linux's I²C
// drivers report that as EREMOTEIO, which is what the error wraps, so
// that drivers see what they would see on a Raspberry Pi (and
// sensors.I2CError classifies it as no device at the address).
type nackError struct{ model, why string }

func (e *nackError) Error() string {
	return "sysfs-i2c: " + syscall.EREMOTEIO.Error() + " (emulated " + e.model + ": " + e.why + ")"
}

func (e *nackError) Unwrap() error { return syscall.EREMOTEIO }

// Word is the raw word for v: rounded and clamped to 0..65535; NaN is 0.
func Word(v float64) uint16 {
	if math.IsNaN(v) {
		return 0
	}
	return uint16(math.Round(math.Max(0, math.Min(65535, v))))
}

// CRC8 is the chips' CRC-8: polynomial 0x31, initial value 0xFF, no final
// XOR, by table.
func CRC8(data []byte) byte {
	crc := byte(0xFF)
	for _, b := range data {
		crc = crcTable[crc^b]
	}
	return crc
}

var crcTable = func() (t [256]byte) {
	for i := range t {
		c := byte(i)
		for range 8 {
			if c&0x80 != 0 {
				c = c<<1 ^ 0x31
			} else {
				c <<= 1
			}
		}
		t[i] = c
	}
	return t
}()
