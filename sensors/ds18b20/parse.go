package ds18b20

import (
	"bytes"
	"encoding/hex"
	"fmt"
	"strconv"

	"github.com/tributary-iot/tributary/sensors"
)

// scratch is what one of the kernel's files says.
type scratch struct {
	milli int     // temperature, m°C
	raw   uint64  // the raw words, for the stuck detector
	rom   [9]byte // the scratchpad, when read from w1_slave
}

// parseW1Slave decodes w1_slave as w1_therm prints it:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
//
// Errors wrap sensors.ErrBus (empty, short or garbled), sensors.ErrCRC
// ("NO", or bytes that fail the CRC whatever the line says).
func parseW1Slave(b []byte) (scratch, error) {
	if len(b) == 0 {
		return scratch{}, fmt.Errorf("w1_slave empty (the kernel could not read the scratchpad: no presence pulse, or CRC failing on every try): %w", sensors.ErrBus)
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) != 2 {
		return scratch{}, fmt.Errorf("w1_slave has %d lines, want 2: %w", len(lines), sensors.ErrBus)
	}
	first, second := bytes.Fields(lines[0]), bytes.Fields(lines[1])
	// 9 bytes, ":", "crc=xx", "YES"/"NO"; then 9 bytes, "t=...".
	if len(first) != 12 || string(first[9]) != ":" || !bytes.HasPrefix(first[10], []byte("crc=")) ||
		len(second) != 10 || !bytes.HasPrefix(second[9], []byte("t=")) {
		return scratch{}, fmt.Errorf("w1_slave garbled: %q: %w", b, sensors.ErrBus)
	}
	var r scratch
	for i, f := range first[:9] {
		if len(f) != 2 {
			return scratch{}, fmt.Errorf("w1_slave garbled byte %q: %w", f, sensors.ErrBus)
		}
		if _, err := hex.Decode(r.rom[i:i+1], f); err != nil {
			return scratch{}, fmt.Errorf("w1_slave garbled byte %q: %w", f, sensors.ErrBus)
		}
	}
	switch string(first[11]) {
	case "YES":
	case "NO":
		return scratch{}, fmt.Errorf("scratchpad % x failed the CRC (%s): %w", r.rom, first[10], sensors.ErrCRC)
	default:
		return scratch{}, fmt.Errorf("w1_slave garbled verdict %q: %w", first[11], sensors.ErrBus)
	}
	if crc := crc8(r.rom[:8]); crc != r.rom[8] {
		return scratch{}, fmt.Errorf("scratchpad % x: CRC %#02x, computed %#02x: %w", r.rom, r.rom[8], crc, sensors.ErrCRC)
	}
	if r.rom == [9]byte{} {
		return scratch{}, fmt.Errorf("scratchpad all zero (data line held low): %w", sensors.ErrBus)
	}
	milli, err := strconv.Atoi(string(second[9][2:]))
	if err != nil {
		return scratch{}, fmt.Errorf("w1_slave garbled temperature %q: %w", second[9], sensors.ErrBus)
	}
	// Kernels have divided with truncation or with a shift: 1 m°C apart
	// for negative temperatures.
	if want := int(int16(uint16(r.rom[0])|uint16(r.rom[1])<<8)) * 1000 / 16; milli < want-1 || milli > want+1 {
		return scratch{}, fmt.Errorf("w1_slave says t=%d, its scratchpad %d: %w", milli, want, sensors.ErrBus)
	}
	r.milli = milli
	r.raw = uint64(r.rom[0]) | uint64(r.rom[1])<<8
	return r, nil
}

// parseTemperature decodes the temperature file ("23125\n", m°C) of Linux
// 5.10 and later, which is empty when the read failed.
func parseTemperature(b []byte) (scratch, error) {
	s := string(bytes.TrimSpace(b))
	if s == "" {
		return scratch{}, fmt.Errorf("temperature empty (the kernel could not read the scratchpad: no presence pulse, or CRC failing on every try): %w", sensors.ErrBus)
	}
	milli, err := strconv.Atoi(s)
	if err != nil {
		return scratch{}, fmt.Errorf("temperature garbled %q: %w", s, sensors.ErrBus)
	}
	return scratch{milli: milli, raw: uint64(int64(milli))}, nil
}

// crc8 is the Maxim 1-wire CRC (x⁸ + x⁵ + x⁴ + 1, reflected, initial 0).
func crc8(b []byte) byte {
	var crc byte
	for _, x := range b {
		for range 8 {
			mix := (crc ^ x) & 1
			crc >>= 1
			if mix != 0 {
				crc ^= 0x8c
			}
			x >>= 1
		}
	}
	return crc
}
