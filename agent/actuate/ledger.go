package actuate

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/durable"
)

// The ledger, <state dir>/<device>.commands, remembers every command id
// the controller recorded, so that each runs at most once across restarts
// and redeliveries. It is a file of fixed 512-byte records, one per id:
//
//	head, written once with the record (append), before the output is set:
//	[0:4)     magic "TRCM"
//	[4]       version (1)
//	[5]       flags: 1 a local command
//	[6] [7]   length of the id, of the actuator name
//	[8:16)    deadline, Unix ms
//	[16:24)   when it was accepted, Unix ms
//	[24:32)   the command's value (float64 bits)
//	[32:96)   id
//	[96:160)  actuator
//	[164:168) CRC-32C of [0:164)
//	outcome, written in place once the command is final (zero until then):
//	[168]     state: 1 applied, 2 refused, 3 expired, 4 failed
//	[169]     length of the reason; [170:172) length of the detail
//	[172:180) when, Unix ms; [180:188) the status's value
//	[188:220) reason; [220:476) detail
//	[508:512) CRC-32C of [168:508)
//
// Each write is fsynced before the controller goes on. Appending takes the
// whole record, so the outcome's later write needs no new space. A part of
// a record at the end of the file is an append cut by a crash: its sync
// never returned, so its command never reached the output, and it is
// ignored. A whole record with an invalid head is damage (a torn page
// write, a failing card; see doc.go for what follows). A valid
// head without a valid outcome is a command accepted and never finished:
// it is reported refused interrupted at the next start. Records whose
// deadline has passed are dropped by compaction, which rewrites the live
// ones to a new file (fsync, rename, fsync of the directory).
const (
	recSize     = 512
	headSize    = 168
	ledgerMagic = "TRCM"
	maxDetail   = 256
	maxReason   = 32
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var stateCodes = []command.State{"", command.Applied, command.Refused, command.Expired, command.Failed}

// entry is one id in the ledger.
type entry struct {
	slot     int // record index in the file
	id       string
	actuator string
	value    float64
	deadline time.Time
	accepted time.Time
	local    bool
	// norec: not in the ledger (a harmless command run while the ledger
	// is full or failing; see Controller.harmless). In memory only.
	norec bool
	// The outcome; state "" while unfinished.
	state  command.State
	reason string
	detail string
	fvalue float64
	ftime  time.Time
}

// ledger is the command ledger. It is used by the controller's one goroutine.
type ledger struct {
	path  string
	f     *os.File
	ids   map[string]*entry
	slots int // records in the file
	// keep holds the damaged records, which compaction keeps so that a
	// restart still finds the damage, until the controller drops them.
	keep [][]byte
}

// ledgerLoad says what openLedger found.
type ledgerLoad struct {
	damaged    int      // whole records with an invalid head
	torn       bool     // the file ends in a part of a record (ignored)
	unfinished []*entry // accepted, never finished
}

func ledgerPath(dir, device string) string { return filepath.Join(dir, device+".commands") }

// openLedger reads the ledger at path, creating it if missing.
func openLedger(path string) (*ledger, ledgerLoad, error) {
	var ld ledgerLoad
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, ld, fmt.Errorf("actuate: open command ledger: %w", err)
	}
	b, err := io.ReadAll(f)
	if err != nil {
		f.Close()
		return nil, ld, fmt.Errorf("actuate: read command ledger %s: %w", path, err)
	}
	l := &ledger{path: path, f: f}
	ld = l.parse(b)
	return l, ld, nil
}

// parse loads the records in b, the ledger file's content.
func (l *ledger) parse(b []byte) ledgerLoad {
	var ld ledgerLoad
	l.ids = map[string]*entry{}
	n := (len(b) + recSize - 1) / recSize
	for i := 0; i < n; i++ {
		rec := b[i*recSize : min(len(b), (i+1)*recSize)]
		e, ok := decodeHead(rec)
		if !ok {
			switch {
			case allZero(rec):
			case len(rec) < recSize:
				ld.torn = true
			default:
				ld.damaged++
				l.keep = append(l.keep, append([]byte(nil), rec...))
				l.slots = i + 1 // never overwritten: a restart finds the damage again
			}
			continue
		}
		e.slot = i
		if len(rec) == recSize {
			decodeOutcome(rec, e)
		}
		l.ids[e.id] = e
		l.slots = i + 1
	}
	for _, e := range l.ids {
		if e.state == "" {
			ld.unfinished = append(ld.unfinished, e)
		}
	}
	sort.Slice(ld.unfinished, func(i, j int) bool { return ld.unfinished[i].slot < ld.unfinished[j].slot })
	return ld
}

func (l *ledger) close() error { return l.f.Close() }

func (l *ledger) get(id string) *entry { return l.ids[id] }

func (l *ledger) live() int { return len(l.ids) }

// add appends e, with its outcome if it has one, and syncs it.
func (l *ledger) add(e *entry) error {
	rec := make([]byte, recSize)
	encodeHead(rec, e)
	if e.state != "" {
		encodeOutcome(rec, e)
	}
	if _, err := l.f.WriteAt(rec, int64(l.slots)*recSize); err != nil {
		return fmt.Errorf("actuate: record command %s: %w", e.id, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("actuate: record command %s: %w", e.id, err)
	}
	e.slot = l.slots
	l.slots++
	l.ids[e.id] = e
	return nil
}

// finish writes e's outcome in place and syncs it. On an error the
// outcome stays in memory (a restart would report the command interrupted).
func (l *ledger) finish(e *entry) error {
	rec := make([]byte, recSize)
	encodeOutcome(rec, e)
	if _, err := l.f.WriteAt(rec[headSize:], int64(e.slot)*recSize+headSize); err != nil {
		return fmt.Errorf("actuate: record outcome of command %s: %w", e.id, err)
	}
	if err := l.f.Sync(); err != nil {
		return fmt.Errorf("actuate: record outcome of command %s: %w", e.id, err)
	}
	return nil
}

// forget drops the ids whose deadline is not after now: a later copy of
// one is expired anyway.
func (l *ledger) forget(now time.Time) {
	for id, e := range l.ids {
		if e.state != "" && !e.deadline.After(now) {
			delete(l.ids, id)
		}
	}
}

// needsCompaction reports whether the file holds many more records than ids.
func (l *ledger) needsCompaction() bool { return l.slots >= 2*(len(l.ids)+len(l.keep))+64 }

// compact rewrites the file with the live ids only.
func (l *ledger) compact() error {
	es := make([]*entry, 0, len(l.ids))
	for _, e := range l.ids {
		es = append(es, e)
	}
	sort.Slice(es, func(i, j int) bool { return es[i].slot < es[j].slot })
	b := make([]byte, (len(l.keep)+len(es))*recSize)
	for i, k := range l.keep {
		copy(b[i*recSize:], k)
	}
	for i, e := range es {
		rec := b[(len(l.keep)+i)*recSize : (len(l.keep)+i+1)*recSize]
		encodeHead(rec, e)
		if e.state != "" {
			encodeOutcome(rec, e)
		}
	}
	if err := durable.WriteFile(l.path, b); err != nil {
		return fmt.Errorf("actuate: compact command ledger: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("actuate: reopen command ledger: %w", err)
	}
	l.f.Close()
	l.f = f
	for i, e := range es {
		e.slot = len(l.keep) + i
	}
	l.slots = len(l.keep) + len(es)
	return nil
}

func encodeHead(rec []byte, e *entry) {
	copy(rec, ledgerMagic)
	rec[4] = 1
	if e.local {
		rec[5] = 1
	}
	rec[6], rec[7] = byte(len(e.id)), byte(len(e.actuator))
	binary.LittleEndian.PutUint64(rec[8:], uint64(e.deadline.UnixMilli()))
	binary.LittleEndian.PutUint64(rec[16:], uint64(e.accepted.UnixMilli()))
	binary.LittleEndian.PutUint64(rec[24:], math.Float64bits(e.value))
	copy(rec[32:96], e.id)
	copy(rec[96:160], e.actuator)
	binary.LittleEndian.PutUint32(rec[164:], crc32.Checksum(rec[:164], castagnoli))
}

func decodeHead(rec []byte) (*entry, bool) {
	if len(rec) < headSize || string(rec[:4]) != ledgerMagic || rec[4] != 1 ||
		binary.LittleEndian.Uint32(rec[164:]) != crc32.Checksum(rec[:164], castagnoli) ||
		rec[6] == 0 || rec[6] > 64 || rec[7] == 0 || rec[7] > 64 {
		return nil, false
	}
	return &entry{
		local:    rec[5]&1 != 0,
		deadline: time.UnixMilli(int64(binary.LittleEndian.Uint64(rec[8:]))).UTC(),
		accepted: time.UnixMilli(int64(binary.LittleEndian.Uint64(rec[16:]))).UTC(),
		value:    math.Float64frombits(binary.LittleEndian.Uint64(rec[24:])),
		id:       string(rec[32 : 32+int(rec[6])]),
		actuator: string(rec[96 : 96+int(rec[7])]),
	}, true
}

func encodeOutcome(rec []byte, e *entry) {
	o := rec[headSize:]
	clear(o)
	for i, s := range stateCodes {
		if s == e.state && i > 0 {
			o[0] = byte(i)
		}
	}
	reason, detail := clipText(e.reason, maxReason), clipText(e.detail, maxDetail)
	o[1] = byte(len(reason))
	binary.LittleEndian.PutUint16(o[2:], uint16(len(detail)))
	binary.LittleEndian.PutUint64(o[4:], uint64(e.ftime.UnixMilli()))
	binary.LittleEndian.PutUint64(o[12:], math.Float64bits(e.fvalue))
	copy(o[20:52], reason)
	copy(o[52:52+maxDetail], detail)
	binary.LittleEndian.PutUint32(rec[recSize-4:], crc32.Checksum(rec[headSize:recSize-4], castagnoli))
}

func decodeOutcome(rec []byte, e *entry) {
	o := rec[headSize:]
	if binary.LittleEndian.Uint32(rec[recSize-4:]) != crc32.Checksum(rec[headSize:recSize-4], castagnoli) ||
		o[0] == 0 || int(o[0]) >= len(stateCodes) || o[1] > maxReason {
		return
	}
	dl := int(binary.LittleEndian.Uint16(o[2:]))
	if dl > maxDetail {
		return
	}
	e.state = stateCodes[o[0]]
	e.ftime = time.UnixMilli(int64(binary.LittleEndian.Uint64(o[4:]))).UTC()
	e.fvalue = math.Float64frombits(binary.LittleEndian.Uint64(o[12:]))
	e.reason = string(o[20 : 20+int(o[1])])
	e.detail = string(o[52 : 52+dl])
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}

var errLedgerFull = errors.New("actuate: command ledger full")
