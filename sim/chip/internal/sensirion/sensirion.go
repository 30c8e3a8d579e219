// Package sensirion holds what the emulated Sensirion chips (sim/chip/sht3x,
// sim/chip/sht4x) share: what they measure (Input), their faults, the data
// a command leaves for the next read (words with their CRC-8, readable
// once, not before the chip is done), the NACK that Linux reports as
// EREMOTEIO, and the raw words' rounding. Its CRC-8
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

// Input gives the physical conditions a chip measures at t: air
// temperature in °C and relative humidity in %RH.
type Input func(t time.Time) (temperature, humidity float64)

// Fixed returns an Input that is always temperature °C and humidity %RH.
func Fixed(temperature, humidity float64) Input {
	return func(time.Time) (float64, float64) { return temperature, humidity }
}

// Fault is a failure of the chip itself (the bus's own faults, no
// acknowledge and bus error, are i2csim.Fault).
type Fault int

const (
	// OK: the chip works.
	OK Fault = iota
	// CRC: every word the chip sends carries a wrong CRC byte, as when
	// the line is noisy or the chip's output latch is upset.
	CRC
	// Stuck: every measurement returns the words of the first measurement
	// taken under the fault, until the fault is changed.
	Stuck
	// OutOfRange: measurements return the temperature word 0xFFFF
	// (130 °C, beyond the chip's 125 °C), as a damaged sensing element
	// does.
	OutOfRange
)

var faultNames = [...]string{OK: "ok", CRC: "crc", Stuck: "stuck", OutOfRange: "out-of-range"}

func (f Fault) String() string {
	if f < 0 || int(f) >= len(faultNames) {
		return fmt.Sprintf("Fault(%d)", int(f))
	}
	return faultNames[f]
}

// Output is what an emulated chip has for its next read, and the fault
// that shapes it. The zero value has no data and no fault. It is not safe
// for concurrent use: the chip's lock guards it.
type Output struct {
	Model string // the chip, for NACK messages: "SHT3x"

	fault   Fault
	frozen  []uint16 // the words the Stuck fault repeats
	data    []byte   // nil: nothing to read
	readyAt time.Time
}

// SetFault makes the chip fail with f from the next command on, or work
// again with OK. Setting the fault it already has changes nothing (a Stuck
// chip keeps repeating the same words).
func (o *Output) SetFault(f Fault) {
	if f != o.fault {
		o.frozen = nil
	}
	o.fault = f
}

// Measure sends a measurement's words, temperature t and humidity h,
// readable from ready on, as the fault makes them.
func (o *Output) Measure(ready time.Time, t, h uint16) {
	words := []uint16{t, h}
	switch o.fault {
	case Stuck:
		if o.frozen == nil {
			o.frozen = words
		}
		words = o.frozen
	case OutOfRange:
		words[0] = 0xFFFF
	}
	o.Send(ready, words...)
}

// Send makes words, each followed by its CRC (a wrong one under the CRC
// fault), the data of the next read, readable from ready on.
func (o *Output) Send(ready time.Time, words ...uint16) {
	o.data = make([]byte, 0, 3*len(words))
	for _, w := range words {
		b := [2]byte{byte(w >> 8), byte(w)}
		crc := CRC8(b[:])
		if o.fault == CRC {
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
