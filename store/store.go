package store

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
)

// Options configure a Store. The zero value is usable: each field says its
// default.
type Options struct {
	// Prefix of every key and channel. Default "tributary".
	Prefix string
	// Logger receives RunRetention's account of the devices it forgets.
	// Default: discard.
	Logger *slog.Logger
	// MaxLen caps each device's history stream, approximately (Redis trims
	// whole macro nodes, so a stream may hold a little more). Default 100000;
	// negative means no length cap.
	MaxLen int64
	// MaxAge drops history older than this (by Redis arrival time). Default 0:
	// no age cap.
	MaxAge time.Duration
	// DedupWindow is how long a device's dedup window (see Ingest) is
	// remembered after its last stored reading, so that a repeat of a
	// reading is dropped. It must cover the longest time a reading can be
	// retried (an edge spool's backlog). Default 7 days.
	DedupWindow time.Duration
	// MaxFuture is how far ahead of Redis's clock a reading's time may be:
	// a reading stamped later is refused (RefusedFuture), so that a wrong
	// clock cannot make one value a series' latest for good. Default 10
	// minutes (an NTP-synchronised clock is within a second; a series'
	// latest can lag by at most this much after a clock that ran ahead is
	// corrected). Negative: no limit.
	MaxFuture time.Duration
	// DeviceRetention is how long a silent device is kept: a device that
	// stored nothing for this long is forgotten (its history, latest
	// values, dedup window, boots and registry entry deleted) by
	// RunRetention. Default 30 days; negative: devices are kept forever.
	DeviceRetention time.Duration
}

// Defaults for Options.
const (
	DefaultPrefix          = "tributary"
	DefaultMaxLen          = 100000
	DefaultDedupWindow     = 7 * 24 * time.Hour
	DefaultMaxFuture       = 10 * time.Minute
	DefaultDeviceRetention = 30 * 24 * time.Hour
)

func (o Options) withDefaults() Options {
	if o.Prefix == "" {
		o.Prefix = DefaultPrefix
	}
	if o.MaxLen == 0 {
		o.MaxLen = DefaultMaxLen
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.MaxFuture == 0 {
		o.MaxFuture = DefaultMaxFuture
	}
	if o.DeviceRetention == 0 {
		o.DeviceRetention = DefaultDeviceRetention
	}
	return o
}

// The dedup window of a device: a ring of seqBlocks bitmaps of seqBlock
// seqs each, in one key of at most seqBlocks*seqBlock/8 = 8 KiB. It covers
// the block of the highest seq stored and the 15 blocks below: a seq at
// most DedupSeqs-seqBlock (61,440) behind the highest is always inside, one
// DedupSeqs (65,536) or more behind never. Keep in step with ingest.lua.
const (
	seqBlock  = 4096
	seqBlocks = 16
	// DedupSeqs is the span of a device's dedup window, in seqs.
	DedupSeqs = seqBlock * seqBlocks
)

// maxScriptBatch is the most readings one run of ingest.lua stores, and
// maxScriptJSON the longest reading it takes (reading.MaxEncoded): a
// script holds the whole server while it runs, and a device's Redis user
// may call it directly, so the script refuses more. Ingest splits a
// device's readings into runs of this size. Keep in step with ingest.lua.
const (
	maxScriptBatch = reading.MaxBatch
	maxScriptJSON  = reading.MaxEncoded
)

//go:embed ingest.lua
var ingestLua string

var ingestScript = redis.NewScript(ingestLua)

// Store reads and writes the keyspace. It is safe for concurrent use. It
// borrows the Redis client; the caller closes it.
type Store struct {
	rdb redis.UniversalClient
	opt Options
	ret retention

	sweepMu    sync.Mutex
	sweepAfter string // where the id index's sweep goes on; under sweepMu
}

// New returns a Store on rdb. Its Options' retention applies until a
// published one is found (see Retention).
func New(rdb redis.UniversalClient, opt Options) *Store {
	s := &Store{rdb: rdb, opt: opt.withDefaults()}
	s.ret.cur = Retention{MaxLen: s.opt.MaxLen, MaxAge: s.opt.MaxAge, DedupWindow: s.opt.DedupWindow, MaxFuture: s.opt.MaxFuture}
	return s
}

// Client returns the Redis client the store uses.
func (s *Store) Client() redis.UniversalClient { return s.rdb }

func (s *Store) key(device, name string) string {
	return s.opt.Prefix + ":{" + device + "}:" + name
}

// StreamKey is the key of device's history stream.
func (s *Store) StreamKey(device string) string { return s.key(device, "readings") }

// LiveChannel is the Pub/Sub channel of device's live readings.
func (s *Store) LiveChannel(device string) string {
	return s.opt.Prefix + ":live:{" + device + "}"
}

// LivePattern matches every device's live channel.
func (s *Store) LivePattern() string { return s.opt.Prefix + ":live:*" }

// DeviceFromChannel returns the device id of a live channel name.
func (s *Store) DeviceFromChannel(ch string) (string, bool) {
	p := s.opt.Prefix + ":live:{"
	if len(ch) < len(p)+2 || ch[:len(p)] != p || ch[len(ch)-1] != '}' {
		return "", false
	}
	return ch[len(p) : len(ch)-1], true
}

// Result says what Ingest did with each reading it was given.
type Result struct {
	Stored int // new readings: stored and published
	// StoredIndex holds the indexes, in the readings given to Ingest, of
	// the Stored ones (by device, in order within a device).
	StoredIndex []int
	Duplicates  int // readings whose (device, seq) was already stored
	// Refused readings are neither stored nor ever will be: sending them
	// again is pointless. Refusals says which and why.
	Refused  int
	Refusals []Refusal
}

// Refusal is a reading Ingest refused.
type Refusal struct {
	Index  int    // in the readings given to Ingest
	Reason string // RefusedTooOld or RefusedFuture
}

// Reasons for refusing a reading. Each device counts its refusals by reason
// in its latest hash (fields "refused:<reason>"; Device.Refused).
const (
	// RefusedTooOld: the seq is DedupSeqs or more behind the highest seq
	// stored for the device within its DedupWindow, too far back to tell a
	// repeat from a new reading. An agent that lost its seq lease resumes
	// after the highest seq (LastSeq), or from its clock, to avoid this.
	RefusedTooOld = "too_old"
	// RefusedFuture: the reading's time is more than MaxFuture ahead of
	// Redis's clock.
	RefusedFuture = "future"
)

// Ingest validates rs and stores every reading not stored before: appended to
// its device's stream, published on its live channel and recorded for
// deduplication, atomically per device and run of up to reading.MaxBatch
// readings (one script call each). Readings of a device are stored in the
// order given.
//
// Deduplication keeps a bounded window per device (DedupSeqs seqs behind
// the highest seq stored; forgotten after DedupWindow without a reading):
// a reading inside the window is stored once however often it is sent; one
// behind it is refused (RefusedTooOld), as is one stamped more than
// MaxFuture ahead (RefusedFuture). Refusals are not errors: the Result
// says which readings were refused, and the caller should count them as
// lost and not send them again.
//
// An invalid reading fails the whole call before anything is written, with
// an error wrapping reading.ErrInvalid. A Redis error may leave some devices'
// readings stored and others not; calling Ingest again with the same
// readings is safe and stores each exactly once.
func (s *Store) Ingest(ctx context.Context, rs []reading.Reading) (Result, error) {
	var res Result
	if len(rs) == 0 {
		return res, nil
	}
	for i := range rs {
		if err := rs[i].Validate(); err != nil {
			return res, fmt.Errorf("store: ingest reading %d: %w", i, err)
		}
	}
	// Group by device, keeping order; most batches hold one device. A
	// device's readings go in runs of at most maxScriptBatch, one script
	// call each, in order.
	groups := make(map[string][]int, 1)
	var devs []string
	for i := range rs {
		d := rs[i].Device
		if _, ok := groups[d]; !ok {
			devs = append(devs, d)
		}
		groups[d] = append(groups[d], i)
	}
	type run struct {
		dev string
		idx []int
	}
	var runs []run
	for _, d := range devs {
		for idx := groups[d]; len(idx) > 0; {
			k := min(len(idx), maxScriptBatch)
			runs = append(runs, run{d, idx[:k]})
			idx = idx[k:]
		}
	}
	s.refreshRetention(ctx)
	ret := s.Retention()
	cmds := make([]*redis.Cmd, len(runs))
	buf := make([]byte, 0, 256)
	// The script runs by its SHA (a device's Redis user may not EVAL: see
	// scripts.go). On NOSCRIPT, the whole pipeline runs again once the
	// script is loaded, or with EVAL for a user that may not load it: the
	// ingest is idempotent.
	exec := func(eval bool) error {
		pipe := s.rdb.Pipeline()
		for gi, ru := range runs {
			dev, idx := ru.dev, ru.idx
			keys := []string{s.StreamKey(dev), s.key(dev, "latest"), s.key(dev, "latest_ts"), s.key(dev, "dedup"), s.key(dev, "dedup_head")}
			future := int64(-1)
			if ret.MaxFuture >= 0 {
				future = ret.MaxFuture.Milliseconds()
			}
			args := make([]any, 0, 6+4*len(idx))
			args = append(args, s.LiveChannel(dev), ret.MaxLen, ret.MaxAge.Milliseconds(), max(int64(ret.DedupWindow/time.Second), 1), future, len(idx))
			for _, i := range idx {
				r := &rs[i]
				buf = r.AppendJSON(buf[:0])
				args = append(args, strconv.FormatUint(r.Seq, 10), r.Sensor+"/"+r.Metric, r.Time.UnixMilli(), string(buf))
			}
			if eval {
				cmds[gi] = ingestScript.Eval(ctx, pipe, keys, args...)
			} else {
				cmds[gi] = ingestScript.EvalSha(ctx, pipe, keys, args...)
			}
		}
		_, err := pipe.Exec(ctx)
		if errors.Is(err, redis.Nil) {
			err = nil
		}
		return err
	}
	err := exec(false)
	if isNoScript(err) {
		var eval bool
		if eval, err = s.mendNoScript(ctx, ingestScript); err == nil {
			err = exec(eval)
			if eval && isNoPerm(err) {
				err = fmt.Errorf("%w (%v)", errNoScript, err)
			}
		}
	}
	if err != nil {
		return res, fmt.Errorf("store: ingest: %w", err)
	}
	zs := make([]redis.Z, 0, len(devs))
	for gi, ru := range runs {
		dev, idx := ru.dev, ru.idx
		v, err := cmds[gi].Slice()
		var stored, now int64
		var status string
		ok := err == nil && len(v) == 3
		if ok {
			stored, _ = v[0].(int64)
			now, _ = v[1].(int64)
			status, _ = v[2].(string)
			ok = len(status) == len(idx)
		}
		if !ok {
			return res, fmt.Errorf("store: ingest device %q: unexpected script reply %v: %v", dev, v, err)
		}
		refused := false
		for j, c := range []byte(status) {
			switch c {
			case 's':
				res.Stored++
				res.StoredIndex = append(res.StoredIndex, idx[j])
			case 'd':
				res.Duplicates++
			case 'o', 'f':
				reason := RefusedTooOld
				if c == 'f' {
					reason = RefusedFuture
				}
				res.Refused++
				res.Refusals = append(res.Refusals, Refusal{Index: idx[j], Reason: reason})
				refused = true
			}
		}
		if stored > 0 || refused {
			// A device whose readings are all refused is registered too, so
			// that its refusal counts are seen, and forgotten in time.
			zs = append(zs, redis.Z{Score: float64(now), Member: dev})
		}
	}
	if err := s.register(ctx, zs); err != nil {
		return res, err
	}
	return res, nil
}

// LastSeq returns the highest seq stored for device, 0 if none.
func (s *Store) LastSeq(ctx context.Context, device string) (uint64, error) {
	v, err := s.rdb.HGet(ctx, s.key(device, "latest"), "seq").Result()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: last seq of %q: %w", device, err)
	}
	n, err := strconv.ParseUint(v, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("store: last seq of %q: %q: %w", device, v, err)
	}
	return n, nil
}

// Query selects readings from a device's history.
type Query struct {
	Since, Until time.Time // by Redis arrival time, inclusive; zero means unbounded
	Limit        int64     // the newest Limit readings of the range; 0 means all
}

// HistoryPage is how many entries History reads from Redis at a time, at
// most.
const HistoryPage = 1000

// HistoryPageBytes is about how many bytes of Redis's memory one page of
// history may take: pages hold fewer than HistoryPage entries when a
// stream's entries are larger, on average, than a valid reading (a device
// with Redis access can XADD anything to its own stream). With the limit
// below, what one page brings to the cloud is at most HistoryPage valid
// readings, about 1 MiB, whatever the stream holds.
const HistoryPageBytes = 4 << 20

// History returns readings of device from its stream, oldest first, each as
// its canonical JSON. A device without history yields an empty slice. It
// holds the whole answer in memory; HistoryPages does not.
func (s *Store) History(ctx context.Context, device string, q Query) ([][]byte, error) {
	out := [][]byte{}
	err := s.HistoryPages(ctx, device, q, func(page [][]byte) error {
		out = append(out, page...)
		return nil
	})
	return out, err
}

// HistoryPages calls fn with successive pages (at most HistoryPage
// readings each, oldest first) of device's history selected by q, so that
// a large answer can be streamed. fn owns each page; an error from fn
// stops the walk and is returned. Readings stored during the walk may or
// may not be included, but never more than q.Limit readings.
//
// An entry whose reading is longer than reading.MaxEncoded, or that has
// none, is not read from Redis: it is in its page as an empty slice (not
// a valid reading), so that the caller counts it. The caller must check
// every entry anyway: a device with Redis access can write any bytes to
// its own stream.
func (s *Store) HistoryPages(ctx context.Context, device string, q Query, fn func(page [][]byte) error) error {
	key := s.StreamKey(device)
	start, end := "-", "+"
	if !q.Since.IsZero() {
		start = strconv.FormatInt(q.Since.UnixMilli(), 10)
	}
	if !q.Until.IsZero() {
		end = strconv.FormatInt(q.Until.UnixMilli(), 10)
	}
	pageLen, err := s.historyPageLen(ctx, key)
	if err != nil {
		return fmt.Errorf("store: history of %q: %w", device, err)
	}
	if q.Limit > 0 {
		// Walk back to the oldest of the newest Limit entries, keeping
		// only ids, then read forward from there.
		left, back, from := q.Limit, end, ""
		for left > 0 {
			want := min(left, pageLen)
			page, err := s.readStream(ctx, key, "XREVRANGE", back, start, want, 0)
			if err != nil {
				return fmt.Errorf("store: history of %q: %w", device, err)
			}
			if len(page) == 0 {
				break
			}
			left -= int64(len(page))
			from = page[len(page)-1].ID
			if int64(len(page)) < want || from == "0-0" {
				break
			}
			back = prevID(from)
		}
		if from == "" { // nothing in range
			return nil
		}
		start = from
	}
	sent := int64(0)
	for {
		n := pageLen
		if q.Limit > 0 {
			n = min(n, q.Limit-sent)
		}
		if n == 0 {
			return nil
		}
		msgs, err := s.readStream(ctx, key, "XRANGE", start, end, n, reading.MaxEncoded, "r")
		if err != nil {
			return fmt.Errorf("store: history of %q: %w", device, err)
		}
		page := make([][]byte, 0, len(msgs))
		for _, m := range msgs {
			v, _ := m.Values[0].(string) // "" when too long or absent
			page = append(page, []byte(v))
		}
		if len(page) > 0 {
			if err := fn(page); err != nil {
				return err
			}
		}
		sent += int64(len(msgs))
		if int64(len(msgs)) < n {
			return nil
		}
		start = nextID(msgs[len(msgs)-1].ID)
	}
}

// historyPageLen is how many entries of the stream at key to read at a
// time: HistoryPage, or fewer when its entries take more than
// HistoryPageBytes/HistoryPage bytes each on average (by MEMORY USAGE and
// XLEN). Where MEMORY USAGE or XLEN is refused (the embedded Redis of the
// demo answers MEMORY USAGE only without SAMPLES; a cloud user made by an
// older deploy/redis/redis-acl.sh may run neither) it is HistoryPage: the
// script still keeps long values in Redis.
func (s *Store) historyPageLen(ctx context.Context, key string) (int64, error) {
	pipe := s.rdb.Pipeline()
	mem := pipe.MemoryUsage(ctx, key, 0)
	n := pipe.XLen(ctx, key)
	pipe.Exec(ctx) // errors are the commands'
	if err := n.Err(); err != nil && !errors.Is(err, redis.Nil) && !isNoPerm(err) && !isWrongType(err) {
		return 0, err
	}
	if mem.Err() != nil || n.Val() <= 0 || mem.Val() <= 0 {
		return HistoryPage, nil
	}
	avg := max(mem.Val()/n.Val(), 1)
	return min(max(HistoryPageBytes/avg, 1), HistoryPage), nil
}

// nextID and prevID step a stream entry id ("ms-seq") by one, for ranges
// that exclude an id without "(" (which older Redis and miniredis lack).
func nextID(id string) string {
	ms, seq := splitID(id)
	if seq == math.MaxUint64 {
		return strconv.FormatUint(ms+1, 10) + "-0"
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq+1, 10)
}

func prevID(id string) string {
	ms, seq := splitID(id)
	if seq == 0 {
		if ms == 0 {
			return "0-0"
		}
		return strconv.FormatUint(ms-1, 10) + "-" + strconv.FormatUint(math.MaxUint64, 10)
	}
	return strconv.FormatUint(ms, 10) + "-" + strconv.FormatUint(seq-1, 10)
}

func splitID(id string) (ms, seq uint64) {
	a, b, _ := strings.Cut(id, "-")
	ms, _ = strconv.ParseUint(a, 10, 64)
	seq, _ = strconv.ParseUint(b, 10, 64)
	return ms, seq
}
