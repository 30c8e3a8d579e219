package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// The on-disk format, version 1 (all integers little-endian).
//
// A segment file <base>.seg starts with a header:
//
//	[0:4)   magic "TRSP"
//	[4]     format version (1)
//	[5:8)   zero
//	[8:16)  base: the index of the segment's first record
//	[16:20) CRC-32C of [0:16)
//
// and holds records back to back:
//
//	[0:4)   n, the payload length
//	[4:8)   CRC-32C of the 4 length bytes followed by the payload
//	[8:8+n) payload
//
// A payload is one reading:
//
//	u32     index - base (every record carries its index, so that a gap
//	        between two valid records counts exactly the readings lost)
//	uvarint seq
//	varint  time, Unix seconds
//	uvarint time, nanoseconds within the second
//	u64     value, IEEE 754 bits
//	4 × (uvarint length, bytes): device, sensor, metric, unit
const (
	segMagic   = "TRSP"
	segVersion = 1
	segHdrSize = 20
	recHdrSize = 8
	// minPayload is the smallest possible payload: a u32, five one-byte
	// varints, a u64 and four empty strings.
	minPayload = 4 + 1 + 1 + 1 + 8 + 4
	// MaxRecordSize is the largest record (header and payload) the spool
	// writes; Push drops a larger reading with reason "too_large". Valid
	// readings (reading.Validate) take at most about 200 bytes.
	MaxRecordSize = 4096
	maxPayload    = MaxRecordSize - recHdrSize
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// errRecord is a record that does not parse: torn, corrupt or not a record.
var errRecord = errors.New("spool: bad record")

// segHeader returns the header of the segment whose first index is base.
func segHeader(base uint64) []byte {
	h := make([]byte, segHdrSize)
	copy(h, segMagic)
	h[4] = segVersion
	binary.LittleEndian.PutUint64(h[8:], base)
	binary.LittleEndian.PutUint32(h[16:], crc32.Checksum(h[:16], castagnoli))
	return h
}

// parseSegHeader returns the base a segment header states.
func parseSegHeader(h []byte) (uint64, bool) {
	if len(h) < segHdrSize || string(h[:4]) != segMagic || h[4] != segVersion ||
		binary.LittleEndian.Uint32(h[16:]) != crc32.Checksum(h[:16], castagnoli) {
		return 0, false
	}
	return binary.LittleEndian.Uint64(h[8:]), true
}

func uvarintLen(x uint64) int {
	n := 1
	for x >= 0x80 {
		x >>= 7
		n++
	}
	return n
}

func varintLen(x int64) int {
	ux := uint64(x) << 1
	if x < 0 {
		ux = ^ux
	}
	return uvarintLen(ux)
}

// recordSize is the size on disk of r's record, header included.
func recordSize(r *reading.Reading) int {
	n := recHdrSize + 4 + uvarintLen(r.Seq) + varintLen(r.Time.Unix()) + uvarintLen(uint64(r.Time.Nanosecond())) + 8
	for _, s := range [...]string{r.Device, r.Sensor, r.Metric, r.Unit} {
		n += uvarintLen(uint64(len(s))) + len(s)
	}
	return n
}

// appendRecord appends the record of r with index base+delta to b.
func appendRecord(b []byte, r *reading.Reading, delta uint32) []byte {
	start := len(b)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, delta)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time.Unix())
	b = binary.AppendUvarint(b, uint64(r.Time.Nanosecond()))
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(r.Value))
	for _, s := range [...]string{r.Device, r.Sensor, r.Metric, r.Unit} {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	n := len(b) - start - recHdrSize
	binary.LittleEndian.PutUint32(b[start:], uint32(n))
	crc := crc32.Update(0, castagnoli, b[start:start+4])
	crc = crc32.Update(crc, castagnoli, b[start+recHdrSize:])
	binary.LittleEndian.PutUint32(b[start+4:], crc)
	return b
}

// checkRecord reports the payload length of the record at the start of b
// (which holds at least recHdrSize bytes) if b holds all of it and its
// checksum matches.
func checkRecord(b []byte) (payload int, ok bool) {
	n := int(binary.LittleEndian.Uint32(b))
	if n < minPayload || n > maxPayload || len(b) < recHdrSize+n {
		return n, false
	}
	crc := crc32.Update(0, castagnoli, b[:4])
	crc = crc32.Update(crc, castagnoli, b[recHdrSize:recHdrSize+n])
	return n, crc == binary.LittleEndian.Uint32(b[4:])
}

// recordDelta is the index delta of a checked record.
func recordDelta(b []byte) uint32 { return binary.LittleEndian.Uint32(b[recHdrSize:]) }

// interner shares the strings of decoded readings: a device has few
// distinct sensor, metric and unit names, so a backlog read from disk does
// not allocate them for every reading.
type interner map[string]string

const maxInterned = 1024

func (in interner) get(b []byte) string {
	if s, ok := in[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(in) < maxInterned {
		in[s] = s
	}
	return s
}

// decodePayload decodes the payload p of a checked record.
func decodePayload(p []byte, in interner) (delta uint32, r reading.Reading, err error) {
	if len(p) < 4 {
		return 0, r, errRecord
	}
	delta = binary.LittleEndian.Uint32(p)
	p = p[4:]
	var k int
	if r.Seq, k = binary.Uvarint(p); k <= 0 {
		return 0, r, errRecord
	}
	p = p[k:]
	sec, k := binary.Varint(p)
	if k <= 0 {
		return 0, r, errRecord
	}
	p = p[k:]
	nsec, k := binary.Uvarint(p)
	if k <= 0 || nsec >= 1e9 {
		return 0, r, errRecord
	}
	p = p[k:]
	r.Time = time.Unix(sec, int64(nsec)).UTC()
	if len(p) < 8 {
		return 0, r, errRecord
	}
	r.Value = math.Float64frombits(binary.LittleEndian.Uint64(p))
	p = p[8:]
	for _, dst := range [...]*string{&r.Device, &r.Sensor, &r.Metric, &r.Unit} {
		n, k := binary.Uvarint(p)
		if k <= 0 || n > uint64(len(p)-k) {
			return 0, r, errRecord
		}
		*dst = in.get(p[k : k+int(n)])
		p = p[k+int(n):]
	}
	if len(p) != 0 {
		return 0, r, errRecord
	}
	return delta, r, nil
}

// normalize returns r as it reads back from disk: its time in UTC, without
// a monotonic clock reading.
func normalize(r reading.Reading) reading.Reading {
	r.Time = time.Unix(r.Time.Unix(), int64(r.Time.Nanosecond())).UTC()
	return r
}
