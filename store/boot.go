package store

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
)

// Boots and assigned sequence numbers: the keys the MQTT bridge writes
// besides the readings themselves (see the keyspace in doc.go).

// MaxBoots caps each device's boots stream, approximately (MAXLEN ~).
const MaxBoots = 1000

// bootDedupDepth is how many of a device's newest boots RecordBoot looks
// through for the boot it is asked to record.
const bootDedupDepth = 32

// Boot is one run of an edge agent (from its start to its exit or power
// loss), as its online status reported it.
type Boot struct {
	ID       string    // the agent's boot id
	FirstSeq uint64    // seq of the first reading of this boot
	Time     time.Time // when the agent started, by its own clock (UTC ms); zero: unknown (no trusted clock in that boot)
	Recorded time.Time // when Redis recorded it (the stream entry id)
}

// BootsKey is the key of device's boots stream.
func (s *Store) BootsKey(device string) string { return s.key(device, "boots") }

// AssignedSeqKey is the key of the last seq NextSeqs assigned to device.
func (s *Store) AssignedSeqKey(device string) string { return s.key(device, "assigned_seq") }

// recordBootScript appends a boot unless one of the newest entries already
// has its id. KEYS[1] boots stream. ARGV: boot id, first seq, ts (ms),
// maxlen, depth. Returns 1 if appended, 0 if already there.
var recordBootScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'none' and t ~= 'stream' then
  redis.call('DEL', KEYS[1]) -- the device's own raw write; it would fail every boot
end
local depth = tonumber(ARGV[5])
if not depth or depth < 1 or depth > 100 then
  return redis.error_reply('ERR boot: a depth of 1 to 100 boots')
end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', depth)
for _, e in ipairs(last) do
  local f = e[2]
  for i = 1, #f, 2 do
    if f[i] == 'boot' and f[i + 1] == ARGV[1] then
      return 0
    end
  end
end
redis.call('XADD', KEYS[1], 'MAXLEN', '~', tonumber(ARGV[4]), '*', 'boot', ARGV[1], 'first_seq', ARGV[2], 'ts', ARGV[3])
return 1
`)

// RecordBoot appends a boot of device (bootID, the seq of its first reading,
// and when it started by the device's clock, zero if the device never had a
// trusted clock during that boot) to device's boots stream,
// tributary:{device}:boots, capped at about MaxBoots entries. It is
// idempotent: a boot id already among the device's 32 newest boots is not
// appended again (a retained status is delivered again on every
// resubscription, and to every bridge).
//
// The boots let the cloud tell a gap in a device's seqs that a restart
// explains (the agent's seq lease moves on) from readings lost on the way.
func (s *Store) RecordBoot(ctx context.Context, device, bootID string, firstSeq uint64, at time.Time) error {
	switch {
	case !reading.ValidID(device):
		return fmt.Errorf("store: record boot: %w: device %q", reading.ErrInvalid, device)
	case !reading.ValidID(bootID):
		return fmt.Errorf("store: record boot of %q: %w: boot id %q", device, reading.ErrInvalid, bootID)
	case firstSeq == 0:
		return fmt.Errorf("store: record boot of %q: %w: first seq must be >= 1", device, reading.ErrInvalid)
	}
	var ms int64 // 0: unknown
	if !at.IsZero() {
		ms = at.UnixMilli()
	}
	err := s.runScript(ctx, recordBootScript, []string{s.BootsKey(device)},
		bootID, strconv.FormatUint(firstSeq, 10), ms, MaxBoots, bootDedupDepth).Err()
	if err != nil {
		return fmt.Errorf("store: record boot of %q: %w", device, err)
	}
	return nil
}

// BootList is a device's recorded boots, as BootList reads them.
type BootList struct {
	Boots []Boot // oldest first; none is an empty slice
	// Skipped counts the entries left out as malformed (written by
	// something other than RecordBoot); SkippedExample names one, for a
	// log line: "<device> <entry id>: <what>", never its stored data.
	Skipped        int
	SkippedExample string
}

// bootValueMax is the longest value of a boots entry BootList reads; a
// valid one is at most reading.MaxIDLen bytes (a boot id), 20 digits for a
// seq or a time.
const bootValueMax = reading.MaxIDLen

// bootChunk is how many boots entries BootList asks Redis for at a time.
const bootChunk = 100

// Boots returns the recorded boots of device, oldest first, leaving out
// malformed entries as BootList does; none is an empty slice.
func (s *Store) Boots(ctx context.Context, device string) ([]Boot, error) {
	l, err := s.BootList(ctx, device)
	return l.Boots, err
}

// BootList returns the newest recorded boots of device (up to 2*MaxBoots,
// the stream's cap with room for its slack), oldest first. Entries that
// are not a boot as RecordBoot writes them are left out and counted, and
// values longer than a valid one are never read from Redis: a device with
// Redis access can write anything to its own boots stream. A boots key of
// another type is one skipped entry.
func (s *Store) BootList(ctx context.Context, device string) (BootList, error) {
	l := BootList{Boots: []Boot{}}
	// Newest first, in chunks, so that the script holds few entries at a
	// time however large a device made them.
	var msgs []streamEntry
	for back := "+"; len(msgs) < 2*MaxBoots; {
		want := int64(min(bootChunk, 2*MaxBoots-len(msgs)))
		chunk, err := s.readStream(ctx, s.BootsKey(device), "XREVRANGE", back, "-", want, bootValueMax, "boot", "first_seq", "ts")
		if isWrongType(err) {
			l.Skipped, l.SkippedExample = 1, device+" boots: not a stream"
			return l, nil
		}
		if err != nil {
			return BootList{}, fmt.Errorf("store: boots of %q: %w", device, err)
		}
		msgs = append(msgs, chunk...)
		if int64(len(chunk)) < want || chunk[len(chunk)-1].ID == "0-0" {
			break
		}
		back = prevID(chunk[len(chunk)-1].ID)
	}
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		id, _ := m.Values[0].(string)
		fs, _ := m.Values[1].(string)
		ts, _ := m.Values[2].(string)
		first, err1 := strconv.ParseUint(fs, 10, 64)
		ms, err2 := strconv.ParseInt(ts, 10, 64)
		if !reading.ValidID(id) || err1 != nil || first == 0 || err2 != nil || ms < 0 {
			if l.Skipped == 0 {
				l.SkippedExample = device + " boots " + truncate(m.ID, 48) + ": not a boot"
			}
			l.Skipped++
			continue
		}
		rec, _ := splitID(m.ID)
		b := Boot{ID: id, FirstSeq: first, Recorded: time.UnixMilli(int64(rec)).UTC()}
		if ms != 0 {
			b.Time = time.UnixMilli(ms).UTC()
		}
		l.Boots = append(l.Boots, b)
	}
	return l, nil
}

// initSeqsScript starts a missing assigned-seq counter (KEYS[1]) at the
// highest seq stored (field "seq" of the latest hash, KEYS[2]), so that
// assigned seqs never go back to ones the dedup bitmaps still hold. The
// increment itself is a plain INCRBY: Lua numbers lose precision past 2^53.
var initSeqsScript = redis.NewScript(`
local t = redis.call('TYPE', KEYS[1])['ok']
if t == 'string' then
  local v = redis.call('GET', KEYS[1])
  if not string.find(v, '^[0-9]+$') or #v > 18 then
    t = 'bad'
  end
end
if t ~= 'none' and t ~= 'string' then
  redis.call('DEL', KEYS[1]) -- not a counter INCRBY can add to: start again
end
if redis.call('EXISTS', KEYS[1]) == 0 and redis.call('TYPE', KEYS[2])['ok'] == 'hash' then
  local last = redis.call('HGET', KEYS[2], 'seq')
  if last and string.find(last, '^[0-9]+$') and #last <= 18 then
    redis.call('SET', KEYS[1], last)
  end
end
return 0
`)

// NextSeqs reserves n (>= 1) consecutive seqs for device and returns the
// first; the others follow it. It is for devices that number nothing
// themselves (the bridge's foreign formats): the counter,
// tributary:{device}:assigned_seq, carries the device's hash tag, so it
// lives in the slot of the device's other keys. When the counter is missing
// (a new device, or one whose counter was lost) it starts after the highest
// seq stored for device.
//
// Reserved seqs that are never stored leave a gap; nothing reuses them.
func (s *Store) NextSeqs(ctx context.Context, device string, n int) (first uint64, err error) {
	if !reading.ValidID(device) {
		return 0, fmt.Errorf("store: next seqs: %w: device %q", reading.ErrInvalid, device)
	}
	if n < 1 {
		return 0, fmt.Errorf("store: next seqs of %q: n = %d, want >= 1", device, n)
	}
	key := s.AssignedSeqKey(device)
	pipe := s.rdb.Pipeline()
	initSeqsScript.Eval(ctx, pipe, []string{key, s.key(device, "latest")})
	incr := pipe.IncrBy(ctx, key, int64(n))
	if _, err := pipe.Exec(ctx); err != nil {
		return 0, fmt.Errorf("store: next seqs of %q: %w", device, err)
	}
	last := incr.Val()
	if last < int64(n) {
		return 0, fmt.Errorf("store: next seqs of %q: counter at %d after adding %d", device, last, n)
	}
	return uint64(last-int64(n)) + 1, nil
}
