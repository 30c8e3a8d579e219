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
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', tonumber(ARGV[5]))
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

// Boots returns the recorded boots of device, oldest first; none is an
// empty slice.
func (s *Store) Boots(ctx context.Context, device string) ([]Boot, error) {
	msgs, err := s.rdb.XRange(ctx, s.BootsKey(device), "-", "+").Result()
	if err != nil {
		return nil, fmt.Errorf("store: boots of %q: %w", device, err)
	}
	out := make([]Boot, 0, len(msgs))
	for _, m := range msgs {
		id, _ := m.Values["boot"].(string)
		fs, _ := m.Values["first_seq"].(string)
		ts, _ := m.Values["ts"].(string)
		first, err1 := strconv.ParseUint(fs, 10, 64)
		ms, err2 := strconv.ParseInt(ts, 10, 64)
		if id == "" || err1 != nil || err2 != nil {
			return nil, fmt.Errorf("store: boots of %q: malformed entry %s: %v", device, m.ID, m.Values)
		}
		rec, _ := splitID(m.ID)
		b := Boot{ID: id, FirstSeq: first, Recorded: time.UnixMilli(int64(rec)).UTC()}
		if ms != 0 {
			b.Time = time.UnixMilli(ms).UTC()
		}
		out = append(out, b)
	}
	return out, nil
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
