package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
)

// The ack cursor file holds two 512-byte slots. Each write goes to the slot
// the previous one did not use, with a generation one higher, so a write
// torn by a crash damages only the slot being written and the other still
// holds the cursor before it. A slot (version 2):
//
//	[0:4)     magic "TRCU"
//	[4]       version (2; version 1, without [24:96), is still read)
//	[5]       number of holes h (at most maxHoles)
//	[6:8)     zero
//	[8:16)    generation
//	[16:24)   ack: every index below it is acknowledged or dropped
//	[24:32)   written: the index after the last record written (0: unknown)
//	[32:96)   the drop counters over the spool's life, one u64 per reason
//	          (in reasonNames order; room for 8)
//	[96:...)  h holes, each [from, to) as two u64: dropped indices above ack
//	          (and those lost to damage, so that no Open counts them twice)
//	[508:512) CRC-32C of [0:508)
//
// The slots are allocated when the file is created, so that the counters
// can be written when the disk is full: the moment readings are lost to it.
const (
	cursorMagic  = "TRCU"
	slotSize     = 512
	maxCounters  = 8
	holesOff     = 32 + 8*maxCounters
	maxHoles     = (slotSize - holesOff - 4) / 16
	v1HolesOff   = 24
	v1MaxHoles   = (slotSize - v1HolesOff - 4) / 16
	slotVersion  = 2
	slotVersion1 = 1
)

// span is a half-open range [from, to) of indices or byte offsets.
type span struct{ from, to uint64 }

type cursorState struct {
	gen   uint64
	ack   uint64
	holes []span
	// written is the index after the last record written (0 if unknown:
	// a version 1 slot); recovery counts the queued indices below it that
	// no segment holds any more as lost (ReasonTruncated).
	written uint64
	dropped [nReasons]uint64
}

// same reports whether c and d persist the same state (generation aside).
func (c cursorState) same(d cursorState) bool {
	return c.ack == d.ack && c.written == d.written &&
		c.dropped == d.dropped && equalSpans(c.holes, d.holes)
}

func encodeSlot(c cursorState) []byte {
	b := make([]byte, slotSize)
	copy(b, cursorMagic)
	b[4] = slotVersion
	h := min(len(c.holes), maxHoles)
	b[5] = byte(h)
	binary.LittleEndian.PutUint64(b[8:], c.gen)
	binary.LittleEndian.PutUint64(b[16:], c.ack)
	binary.LittleEndian.PutUint64(b[24:], c.written)
	for i, n := range c.dropped {
		binary.LittleEndian.PutUint64(b[32+8*i:], n)
	}
	for i, sp := range c.holes[:h] {
		binary.LittleEndian.PutUint64(b[holesOff+16*i:], sp.from)
		binary.LittleEndian.PutUint64(b[holesOff+8+16*i:], sp.to)
	}
	binary.LittleEndian.PutUint32(b[slotSize-4:], crc32.Checksum(b[:slotSize-4], castagnoli))
	return b
}

func decodeSlot(b []byte) (cursorState, bool) {
	if len(b) < slotSize || string(b[:4]) != cursorMagic ||
		binary.LittleEndian.Uint32(b[slotSize-4:]) != crc32.Checksum(b[:slotSize-4], castagnoli) {
		return cursorState{}, false
	}
	off, most := holesOff, maxHoles
	switch b[4] {
	case slotVersion:
	case slotVersion1:
		off, most = v1HolesOff, v1MaxHoles
	default:
		return cursorState{}, false
	}
	if int(b[5]) > most {
		return cursorState{}, false
	}
	c := cursorState{gen: binary.LittleEndian.Uint64(b[8:]), ack: binary.LittleEndian.Uint64(b[16:])}
	if b[4] == slotVersion {
		c.written = binary.LittleEndian.Uint64(b[24:])
		for i := range c.dropped {
			c.dropped[i] = binary.LittleEndian.Uint64(b[32+8*i:])
		}
	}
	for i := range int(b[5]) {
		sp := span{binary.LittleEndian.Uint64(b[off+16*i:]), binary.LittleEndian.Uint64(b[off+8+16*i:])}
		if sp.from < c.ack || sp.to <= sp.from || len(c.holes) > 0 && sp.from < c.holes[len(c.holes)-1].to {
			return cursorState{}, false
		}
		c.holes = append(c.holes, sp)
	}
	return c, true
}

// openCursor opens (creating) the cursor file at path, allocates its two
// slots and reads the newest valid one. found is false if no slot is valid; corrupt is true if the
// file held data but no valid slot.
func openCursor(path string) (f *os.File, c cursorState, found, corrupt bool, err error) {
	f, err = os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, c, false, false, fmt.Errorf("spool: open cursor: %w", err)
	}
	b := make([]byte, 2*slotSize)
	n, err := f.ReadAt(b, 0)
	if err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, c, false, false, fmt.Errorf("spool: read cursor: %w", err)
	}
	if n < len(b) {
		// Allocate both slots now, so that a full disk never keeps a
		// later Commit from overwriting them. Bytes past n hold no slot.
		if _, err := f.WriteAt(make([]byte, len(b)-n), int64(n)); err != nil {
			f.Close()
			return nil, c, false, false, fmt.Errorf("spool: allocate cursor: %w", err)
		}
	}
	b = b[:n]
	for i := 0; i+slotSize <= len(b); i += slotSize {
		if s, ok := decodeSlot(b[i : i+slotSize]); ok && (!found || s.gen > c.gen) {
			c, found = s, true
		}
	}
	// Slots allocated but never written are zeros: nothing was ever
	// acknowledged, which is not damage.
	return f, c, found, !found && n > 0 && !allZero(b), nil
}

// writeCursor writes c to the slot its generation selects.
func writeCursor(f *os.File, c cursorState) error {
	_, err := f.WriteAt(encodeSlot(c), int64(c.gen%2)*slotSize)
	return err
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
