package store

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
)

// The device registry: two sorted sets of the same device ids, written by
// Ingest after each device's script (another Cluster slot). Both are hints:
// a device is what its own keys say, and a member without a latest hash is
// skipped by readers and removed by the sweep.
//
//	tributary:devices      Sorted set. Score: unix ms of the device's last
//	                       ingest, by Redis's clock. The sweep (RunRetention)
//	                       finds silent devices by it.
//	tributary:device_ids   Sorted set, every score 0: the ids in byte order,
//	                       for listing in pages (DevicesPage).

func (s *Store) devicesKey() string   { return s.opt.Prefix + ":devices" }
func (s *Store) deviceIDsKey() string { return s.opt.Prefix + ":device_ids" }

// register records that the devices of zs ingested at their scores.
func (s *Store) register(ctx context.Context, zs []redis.Z) error {
	if len(zs) == 0 {
		return nil
	}
	ids := make([]redis.Z, len(zs))
	for i, z := range zs {
		ids[i] = redis.Z{Member: z.Member}
	}
	// If this fails the readings are stored; the registry catches up next
	// time.
	pipe := s.rdb.Pipeline()
	pipe.ZAddGT(ctx, s.devicesKey(), zs...)
	pipe.ZAddNX(ctx, s.deviceIDsKey(), ids...)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("store: register devices: %w", err)
	}
	return nil
}

// Device is a device as the keyspace knows it.
type Device struct {
	ID       string            `json:"id"`
	LastSeen time.Time         `json:"last_seen"` // Redis time of the last reading stored
	LastSeq  uint64            `json:"last_seq"`  // highest seq stored
	Latest   []reading.Reading `json:"latest"`    // newest reading of each series, by sensor then metric
	// Refused counts the device's refused readings by reason (RefusedTooOld,
	// RefusedFuture), since it was first seen; none is omitted.
	Refused map[string]int64 `json:"refused,omitempty"`
}

// DevicePage is one page of the device list.
type DevicePage struct {
	Devices []Device // by id
	// Next is the id to list after for the following page; "" when this
	// page is the last.
	Next string
	// Skipped counts what the page left out as malformed: fields of latest
	// hashes that hold no valid reading of their device and series, and
	// latest hashes too large (MaxLatestFields, MaxLatestBytes) or of
	// another type, each one. Registry members without a latest hash are
	// left out silently, and removed from the id index as they are met.
	Skipped int
	// SkippedExample names one skipped field, "<device> <field>", for a log
	// line; "" when none was.
	SkippedExample string
}

// Page sizes of DevicesPage.
const (
	DefaultDevicePage = 500
	MaxDevicePage     = 1000
)

// MaxLatestFields is the largest latest hash DevicesPage reads (about that
// many series per device); a larger one is skipped as malformed.
const MaxLatestFields = 1024

// MaxLatestBytes is the largest latest hash DevicesPage reads, in bytes of
// Redis's memory (MEMORY USAGE); a larger one is skipped as malformed. A
// valid hash holds at most MaxLatestFields readings of at most
// reading.MaxEncoded bytes under names of at most 129 bytes: about
// 1.15 MiB, plus Redis's overhead of under 100 bytes a field.
const MaxLatestBytes = 2 << 20

// DevicePageBytes is about the most bytes of latest hashes (by MEMORY
// USAGE) one DevicesPage reads: a page ends early, with a Next, once its
// hashes reach it. Typical devices (a few series, about a kilobyte each)
// fill a page of MaxDevicePage long before. At least one device is
// listed a page, so a page reads at most DevicePageBytes+MaxLatestBytes.
const DevicePageBytes = 8 << 20

// devicePageRounds bounds the registry reads of one DevicesPage.
const devicePageRounds = 4

// DevicesPage lists up to limit devices (DefaultDevicePage when limit <= 0,
// at most MaxDevicePage) whose ids sort after after ("" for the first
// page), by id, with their newest readings. Its memory and work are bounded
// by limit, whatever the registry's size; a page may be short and still
// have a Next when the registry holds many members without devices, or
// when its devices' latest hashes reach DevicePageBytes. Devices registered or forgotten
// during a walk of the pages may or may not be listed; the others are
// listed exactly once.
func (s *Store) DevicesPage(ctx context.Context, after string, limit int) (DevicePage, error) {
	if limit <= 0 {
		limit = DefaultDevicePage
	}
	limit = min(limit, MaxDevicePage)
	from := "-"
	if after != "" {
		from = "(" + after
	}
	var page DevicePage
	budget := int64(DevicePageBytes) // of the whole page
	for round := 1; ; round++ {
		// Members without a latest hash (forgotten, not yet swept) are
		// skipped: read on until the page is full or the ids run out, for
		// a few rounds at most.
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.deviceIDsKey(), Start: from, Stop: "+", ByLex: true, Count: int64(limit - len(page.Devices) + 1)}).Result()
		if err != nil {
			return DevicePage{}, fmt.Errorf("store: list devices: %w", err)
		}
		if len(ids) == 0 {
			page.Next = ""
			return page, nil
		}
		more := len(ids) > limit-len(page.Devices)
		if more {
			ids = ids[:len(ids)-1]
		}
		// Sizes first: a latest hash is read whole only if it is of a
		// plausible size (a device with Redis access could grow its own),
		// and only as many as fit in the page's byte budget.
		pipe := s.rdb.Pipeline()
		lens := make([]*redis.IntCmd, len(ids))
		mems := make([]*redis.IntCmd, len(ids))
		for i, id := range ids {
			if reading.ValidID(id) {
				lens[i] = pipe.HLen(ctx, s.key(id, "latest"))
				mems[i] = pipe.MemoryUsage(ctx, s.key(id, "latest"), 0)
			}
		}
		pipe.Exec(ctx) // errors are the commands'
		cmds := make([]*redis.MapStringStringCmd, len(ids))
		skip := func(id, what string) {
			if page.Skipped == 0 {
				page.SkippedExample = id + " latest: " + what
			}
			page.Skipped++
		}
		var stale []any // members without data
		full := false   // by bytes
		planned := 0
		for i, id := range ids {
			if lens[i] == nil {
				stale = append(stale, id)
				continue
			}
			n, err := lens[i].Result()
			switch {
			case isWrongType(err):
				skip(id, "not a hash")
				continue
			case err != nil:
				return DevicePage{}, fmt.Errorf("store: list devices: %w", err)
			case n == 0:
				stale = append(stale, id)
				continue
			case n > MaxLatestFields:
				skip(id, strconv.FormatInt(n, 10)+" fields")
				continue
			}
			// Without MEMORY USAGE (the demo's embedded Redis, or a user
			// not allowed it) there is no byte check.
			if m, err := mems[i].Result(); err == nil {
				if m > MaxLatestBytes {
					skip(id, strconv.FormatInt(m, 10)+" bytes")
					continue
				}
				if m > budget && len(page.Devices)+planned > 0 {
					// The page is full by bytes: it ends before id.
					ids, more, full = ids[:i], true, true
					break
				}
				budget -= m
			}
			cmds[i] = pipe.HGetAll(ctx, s.key(id, "latest"))
			planned++
		}
		cmds = cmds[:len(ids)]
		if len(stale) > 0 {
			// Forget members without data as they are met: a device may
			// have added them (the sweep removes the rest). One that
			// ingests meanwhile is added back by its next ingest.
			pipe.ZRem(ctx, s.deviceIDsKey(), stale...)
		}
		pipe.Exec(ctx) // errors are the commands'
		for i, id := range ids {
			if cmds[i] == nil {
				continue
			}
			fields, err := cmds[i].Result()
			switch {
			case isWrongType(err): // replaced since its HLEN
				skip(id, "not a hash")
				continue
			case err != nil && !errors.Is(err, redis.Nil):
				return DevicePage{}, fmt.Errorf("store: list devices: %w", err)
			case len(fields) == 0:
				continue
			}
			d, skipped, example := parseDevice(id, fields)
			page.Devices = append(page.Devices, d)
			if skipped > 0 && page.Skipped == 0 {
				page.SkippedExample = example
			}
			page.Skipped += skipped
		}
		if len(ids) == 0 { // full by bytes at the first id of this round
			page.Next = from[1:]
			return page, nil
		}
		last := ids[len(ids)-1]
		if !more {
			return page, nil
		}
		if full || len(page.Devices) == limit || round == devicePageRounds {
			page.Next = last
			return page, nil
		}
		from = "(" + last
	}
}

// parseDevice reads a latest hash, leaving out the fields that hold no
// valid reading of the device and series they are filed under.
func parseDevice(id string, fields map[string]string) (d Device, skipped int, example string) {
	d = Device{ID: id, Latest: []reading.Reading{}}
	skip := func(f string) {
		if skipped == 0 {
			example = id + " " + truncate(f, 64)
		}
		skipped++
	}
	for f, v := range fields {
		switch {
		case f == "seen":
			ms, err := strconv.ParseInt(v, 10, 64)
			if err != nil || ms < 0 {
				skip(f)
				continue
			}
			d.LastSeen = time.UnixMilli(ms).UTC()
		case f == "seq":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				skip(f)
				continue
			}
			d.LastSeq = n
		case f == "refused:"+RefusedTooOld || f == "refused:"+RefusedFuture:
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				skip(f)
				continue
			}
			if d.Refused == nil {
				d.Refused = map[string]int64{}
			}
			d.Refused[f[len("refused:"):]] = n
		default:
			r, err := reading.Decode([]byte(v))
			if err != nil || r.Device != id || r.Sensor+"/"+r.Metric != f {
				skip(f)
				continue
			}
			d.Latest = append(d.Latest, r)
		}
	}
	sort.Slice(d.Latest, func(a, b int) bool {
		la, lb := d.Latest[a], d.Latest[b]
		if la.Sensor != lb.Sensor {
			return la.Sensor < lb.Sensor
		}
		return la.Metric < lb.Metric
	})
	return d, skipped, example
}

// truncate cuts s to at most n bytes, for logs.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "..."
}

// Devices lists every registered device, by id, with its newest readings,
// leaving out malformed fields as DevicesPage does. It holds the whole list
// in memory; DevicesPage does not.
func (s *Store) Devices(ctx context.Context) ([]Device, error) {
	out := []Device{}
	after := ""
	for {
		p, err := s.DevicesPage(ctx, after, MaxDevicePage)
		if err != nil {
			return nil, err
		}
		out = append(out, p.Devices...)
		if p.Next == "" {
			return out, nil
		}
		after = p.Next
	}
}

// DeviceCounts says how many devices of the registry are online and
// offline.
type DeviceCounts struct {
	Online  int64 // ingested within the threshold
	Offline int64 // silent for longer (until the sweep forgets them)
}

// CountDevices counts the registry's devices (tributary:devices) by the
// rule of the cloud's device list: a device is online if its last ingest is
// at most offlineAfter before now, by Redis's clock (the registry's scores
// are Redis's, so the cloud's own clock does not enter). It costs a TIME and
// two ZCOUNTs, whatever the registry's size. Registry members whose device
// data is gone, until the sweep removes them, count as offline.
func (s *Store) CountDevices(ctx context.Context, offlineAfter time.Duration) (DeviceCounts, error) {
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return DeviceCounts{}, fmt.Errorf("store: count devices: %w", err)
	}
	cutoff := strconv.FormatInt(now.UnixMilli()-offlineAfter.Milliseconds(), 10)
	pipe := s.rdb.Pipeline()
	online := pipe.ZCount(ctx, s.devicesKey(), cutoff, "+inf")
	offline := pipe.ZCount(ctx, s.devicesKey(), "-inf", "("+cutoff)
	if _, err := pipe.Exec(ctx); err != nil {
		return DeviceCounts{}, fmt.Errorf("store: count devices: %w", err)
	}
	return DeviceCounts{Online: online.Val(), Offline: offline.Val()}, nil
}

// SweepBatch is how many registry members one round of the sweep looks at,
// at most, in each of its steps.
const SweepBatch = 500

// Each round of the sweep also walks on through the id index, up to
// sweepIDPages pages of sweepIDPage ids, removing the ids that have no
// latest hash (a device can ZADD any member); it goes on where the last
// round stopped, and starts over after the last id.
const (
	sweepIDPage  = 1000
	sweepIDPages = 10
)

// sweepIDs is one round of the id index's walk; it returns how many ids
// it removed.
func (s *Store) sweepIDs(ctx context.Context) (int, error) {
	s.sweepMu.Lock()
	defer s.sweepMu.Unlock()
	removed := 0
	for range sweepIDPages {
		from := "-"
		if s.sweepAfter != "" {
			from = "(" + s.sweepAfter
		}
		ids, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.deviceIDsKey(), Start: from, Stop: "+", ByLex: true, Count: sweepIDPage}).Result()
		if err != nil {
			return removed, err
		}
		if len(ids) == 0 {
			s.sweepAfter = ""
			return removed, nil
		}
		has, err := s.haveData(ctx, ids)
		if err != nil {
			return removed, err
		}
		var gone []any
		for i, id := range ids {
			if !has[i] {
				gone = append(gone, id)
			}
		}
		if len(gone) > 0 {
			// A device that stores its first reading right now may lose
			// its id here; indexDevices adds it back from the other set.
			n, err := s.rdb.ZRem(ctx, s.deviceIDsKey(), gone...).Result()
			if err != nil {
				return removed, err
			}
			removed += int(n)
		}
		s.sweepAfter = ids[len(ids)-1]
		if len(ids) < sweepIDPage {
			s.sweepAfter = ""
			return removed, nil
		}
	}
	return removed, nil
}

// forgetScript deletes a device's keys if the device is silent: its latest
// hash says it stored nothing since the cutoff, or says nothing usable.
// KEYS: latest hash, then every other key of the device. ARGV: cutoff ms,
// now ms. Returns -1 when the keys were deleted, else the last-seen ms.
var forgetScript = redis.NewScript(`
local seen = tonumber(redis.call('HGET', KEYS[1], 'seen') or '')
if seen and seen > tonumber(ARGV[1]) and seen <= tonumber(ARGV[2]) + 60000 then
  return seen
end
redis.call('DEL', unpack(KEYS))
return -1
`)

// unregisterScript removes a device from the time-scored registry if its
// score is still at or below the cutoff (it did not ingest meanwhile).
// KEYS[1] registry. ARGV: device, cutoff ms. Returns 1 if removed.
var unregisterScript = redis.NewScript(`
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '')
if score and score <= tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
`)

// unregister removes id from both registry sets.
func (s *Store) unregister(ctx context.Context, id string) error {
	pipe := s.rdb.Pipeline()
	pipe.ZRem(ctx, s.devicesKey(), id)
	pipe.ZRem(ctx, s.deviceIDsKey(), id)
	_, err := pipe.Exec(ctx)
	return err
}

// deviceKeys are the names of every key a device owns, latest first.
func (s *Store) deviceKeys(device string) []string {
	return []string{s.key(device, "latest"), s.StreamKey(device), s.key(device, "latest_ts"),
		s.key(device, "dedup"), s.key(device, "dedup_head"), s.BootsKey(device), s.AssignedSeqKey(device)}
}

// SweepDevices is one bounded round of RunRetention's device sweep: it
// forgets up to SweepBatch devices silent for longer than DeviceRetention
// (deleting every key of theirs), and clamps up to SweepBatch registry
// scores that lie in the future (written by something other than Ingest)
// to now, so that they age like any other. It returns how many devices it
// forgot. It also walks on through the id index (tributary:device_ids),
// up to 10,000 ids a round, removing ids without a latest hash. Safe
// beside Ingest: a device that stores a reading meanwhile is kept.
func (s *Store) SweepDevices(ctx context.Context) (int, error) {
	_, idsErr := s.sweepIDs(ctx)
	if idsErr != nil {
		idsErr = fmt.Errorf("store: sweep the id index: %w", idsErr)
	}
	if s.opt.DeviceRetention < 0 {
		return 0, idsErr
	}
	now, err := s.rdb.Time(ctx).Result()
	if err != nil {
		return 0, err
	}
	nowMS := now.UnixMilli()
	ahead, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.devicesKey(), Start: "(" + strconv.FormatInt(nowMS+60000, 10), Stop: "+inf", ByScore: true, Count: SweepBatch}).Result()
	if err != nil {
		return 0, err
	}
	if len(ahead) > 0 {
		zs := make([]redis.Z, len(ahead))
		for i, id := range ahead {
			zs[i] = redis.Z{Score: float64(nowMS), Member: id}
		}
		if err := s.rdb.ZAddXX(ctx, s.devicesKey(), zs...).Err(); err != nil {
			return 0, err
		}
	}
	cutoff := nowMS - s.opt.DeviceRetention.Milliseconds()
	silent, err := s.rdb.ZRangeArgs(ctx, redis.ZRangeArgs{Key: s.devicesKey(), Start: "-inf", Stop: strconv.FormatInt(cutoff, 10), ByScore: true, Count: SweepBatch}).Result()
	if err != nil {
		return 0, err
	}
	var forgotten []string
	var errs []error
	for _, id := range silent {
		if !reading.ValidID(id) { // not a device: no keys to forget
			if err := s.unregister(ctx, id); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		seen, err := forgetScript.Run(ctx, s.rdb, s.deviceKeys(id), cutoff, nowMS).Int64()
		if err != nil {
			errs = append(errs, fmt.Errorf("forget %q: %w", id, err))
			continue
		}
		if seen >= 0 {
			// It did ingest: the registry lagged (its ZADD failed).
			if err := s.rdb.ZAddGT(ctx, s.devicesKey(), redis.Z{Score: float64(seen), Member: id}).Err(); err != nil {
				errs = append(errs, err)
			}
			continue
		}
		removed, err := unregisterScript.Run(ctx, s.rdb, []string{s.devicesKey()}, id, cutoff).Int64()
		if err != nil {
			errs = append(errs, fmt.Errorf("unregister %q: %w", id, err))
			continue
		}
		if removed == 1 {
			// Should the device ingest right now, its next ingest adds it
			// back (ZADD NX).
			if err := s.rdb.ZRem(ctx, s.deviceIDsKey(), id).Err(); err != nil {
				errs = append(errs, err)
			}
			forgotten = append(forgotten, id)
		}
	}
	if len(forgotten) > 0 && s.opt.Logger != nil {
		s.opt.Logger.Info("devices forgotten: silent longer than the device retention", "count", len(forgotten),
			"devices", forgotten[:min(len(forgotten), 20)], "retention", s.opt.DeviceRetention.String())
	}
	return len(forgotten), errors.Join(append(errs, idsErr)...)
}

// indexDevices adds members of the time-scored registry to the id index,
// MaxDevicePage of them from rank from, and returns the rank to go on
// from (0 after the last): registries written before the index existed,
// or by older ingesters that do not write it, become listable.
func (s *Store) indexDevices(ctx context.Context, from int64) (int64, error) {
	ids, err := s.rdb.ZRange(ctx, s.devicesKey(), from, from+MaxDevicePage-1).Result()
	if err != nil {
		return from, err
	}
	if len(ids) > 0 {
		// Only devices with data: a device can add any member to either
		// set.
		has, err := s.haveData(ctx, ids)
		if err != nil {
			return from, err
		}
		zs := make([]redis.Z, 0, len(ids))
		for i, id := range ids {
			if has[i] {
				zs = append(zs, redis.Z{Member: id})
			}
		}
		if len(zs) > 0 {
			if err := s.rdb.ZAddNX(ctx, s.deviceIDsKey(), zs...).Err(); err != nil {
				return from, err
			}
		}
	}
	if len(ids) < MaxDevicePage {
		return 0, nil
	}
	return from + MaxDevicePage, nil
}

// haveData reports, for each of ids, whether it is a device id with a
// latest hash: registry members are hints (a device can add any member),
// its data is the proof.
func (s *Store) haveData(ctx context.Context, ids []string) ([]bool, error) {
	pipe := s.rdb.Pipeline()
	ex := make([]*redis.IntCmd, len(ids))
	for i, id := range ids {
		if reading.ValidID(id) {
			ex[i] = pipe.Exists(ctx, s.key(id, "latest"))
		}
	}
	if _, err := pipe.Exec(ctx); err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	has := make([]bool, len(ids))
	for i := range ids {
		has[i] = ex[i] != nil && ex[i].Val() > 0
	}
	return has, nil
}
