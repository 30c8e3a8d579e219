package bridge

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	mqtt "github.com/eclipse/paho.mqtt.golang"
	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// item is one received message and what it asks of Redis.
type item struct {
	msg       mqtt.Message
	kind      string
	arrival   time.Time
	readings  []reading.Reading // to ingest; a mapped item's seqs are 0 until assigned
	device    string            // of a mapped item, for its seqs
	status    *mqttwire.Status  // an online status, to record as a boot
	reason    string            // dead letter: why
	detail    string            // dead letter: the error
	mapping   string            // of a mapped item
	ignored   int               // fields a mapping ignored
	restamped int               // readings a mapping restamped
	events    []command.Event   // command events of device, to store
}

// maxDeadLetterError bounds the error of a dead letter, in bytes: like its
// payload (Options.DeadLetterPayload), it must not grow with what a device
// sends (topics of 64 KiB, packs of thousands of records), since the
// stream keeps up to Options.DeadLetterMaxLen entries.
const maxDeadLetterError = 2048

func (it *item) dead(reason string, format string, args ...any) {
	it.reason, it.detail, it.readings, it.status, it.events = reason, truncateError(fmt.Sprintf(format, args...)), nil, nil, nil
}

// truncateError cuts s to at most maxDeadLetterError bytes, at a rune
// boundary, saying how long it was.
func truncateError(s string) string {
	if len(s) <= maxDeadLetterError {
		return s
	}
	suffix := fmt.Sprintf(" ... (error of %d bytes cut)", len(s))
	cut := maxDeadLetterError - len(suffix)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + suffix
}

// classify decodes and checks a message; it touches no Redis.
func (b *Bridge) classify(m mqtt.Message) item {
	topic, payload := m.Topic(), m.Payload()
	it := item{msg: m, kind: b.kindOf(topic), arrival: b.opt.Now()}
	if len(payload) > b.opt.MaxPayload {
		it.dead(ReasonTooLarge, "payload of %d bytes, limit %d", len(payload), b.opt.MaxPayload)
		return it
	}
	switch it.kind {
	case kindReadings:
		device, _, ok := mqttwire.ParseTopic(topic)
		if !ok {
			it.dead(ReasonBadTopic, "topic %q: not a valid device id", topic)
			return it
		}
		rs, err := reading.DecodeBatch(payload)
		if err != nil {
			it.dead(batchReason(err), "%v", err)
			return it
		}
		for i := range rs {
			if rs[i].Device != device {
				it.dead(ReasonDeviceMismatch, "reading %d is of device %q, the topic of %q", i, rs[i].Device, device)
				return it
			}
		}
		it.readings = rs
	case kindStatus:
		if _, _, ok := mqttwire.ParseTopic(topic); !ok {
			it.dead(ReasonBadTopic, "topic %q: not a valid device id", topic)
			return it
		}
		s, err := mqttwire.DecodeStatus(payload)
		if err != nil {
			it.dead(ReasonBadStatus, "%v", err)
			return it
		}
		if s.Online {
			it.status = &s
		}
	case kindEvents:
		device, _, ok := mqttwire.ParseTopic(topic)
		if !ok {
			it.dead(ReasonBadTopic, "topic %q: not a valid device id", topic)
			return it
		}
		evs, err := mqttwire.DecodeEvents(payload)
		if err != nil {
			it.dead(ReasonInvalid, "%v", err)
			return it
		}
		for i := range evs {
			if d := evs[i].Device(); d != device {
				it.dead(ReasonDeviceMismatch, "event %d is about device %q, the topic of %q", i, d, device)
				return it
			}
		}
		it.device, it.events = device, evs
	case kindMapped:
		mp := b.mapperFor(topic)
		it.mapping = mp.Name
		device, err := mp.device(topic)
		if err != nil {
			it.dead(ReasonBadDeviceName, "mapping %s: %v", mp.Name, err)
			return it
		}
		ahead := MaxTimeAhead
		if f := b.st.Retention().MaxFuture; f >= 0 && f < ahead {
			ahead = f
		}
		d, err := mp.decodeAhead(device, payload, it.arrival, ahead)
		if err != nil {
			reason := ReasonMalformed
			switch {
			case errors.Is(err, errUnit):
				reason = ReasonUnit
			case errors.Is(err, errTooLarge):
				reason = ReasonTooLarge
			case errors.Is(err, errInvalid):
				reason = ReasonInvalid
			case errors.Is(err, errTime):
				reason = ReasonTime
			}
			it.dead(reason, "mapping %s: %v", mp.Name, err)
			return it
		}
		it.device, it.readings, it.ignored, it.restamped = device, d.readings, d.ignored, d.restamped
	case kindExcluded: // left out by a mapping's exclude: acknowledged, dropped
	default:
		it.dead(ReasonUnrouted, "no mapping for topic %q", topic)
	}
	return it
}

// batchReason names the dead-letter reason of a DecodeBatch error.
func batchReason(err error) string {
	var fe *reading.FieldError
	switch {
	case errors.Is(err, reading.ErrTooLarge):
		return ReasonTooLarge
	case errors.As(err, &fe), errors.Is(err, reading.ErrUnknownField), errors.Is(err, reading.ErrVersion):
		return ReasonInvalid
	default:
		return ReasonMalformed
	}
}

// process stores a group of messages in Redis and then acknowledges them,
// in the order received. It reports false if ctx ended first: then nothing
// of the group is acknowledged.
func (b *Bridge) process(ctx context.Context, msgs []mqtt.Message, r *redisState) bool {
	items := make([]item, len(msgs))
	for i, m := range msgs {
		items[i] = b.classify(m)
	}
	if !b.assignSeqs(ctx, items, r) {
		return false
	}
	if !b.ingest(ctx, items, r) {
		return false
	}
	if !b.reportEvents(ctx, items, r) {
		return false
	}
	if !b.writeDeadLetters(ctx, items, r) {
		return false
	}
	for i := range items {
		it := &items[i]
		if it.status == nil {
			continue
		}
		device, _, _ := mqttwire.ParseTopic(it.msg.Topic())
		s := it.status
		if !r.retry(ctx, b, "record boot", func(ctx context.Context) error {
			err := b.st.RecordBoot(ctx, device, s.Boot, s.FirstSeq, s.Time)
			if isPoison(err) {
				// The boot is lost (it only annotates history); the
				// device's keys are its own doing. Not retried.
				b.log.Warn("redis refused a device's boot for good", "device", device, "err", err)
				return nil
			}
			return err
		}) {
			return false
		}
		if !r.retry(ctx, b, "record actuators", func(ctx context.Context) error {
			err := b.st.SetActuators(ctx, device, s.Actuators)
			if isPoison(err) || errors.Is(err, command.ErrInvalid) {
				b.log.Warn("redis refused a device's actuators for good", "device", device, "err", err)
				return nil
			}
			return err
		}) {
			return false
		}
	}
	if b.beforeAck != nil && !b.beforeAck(len(items)) {
		return false
	}
	for i := range items {
		it := &items[i]
		it.msg.Ack()
		if it.reason != "" {
			b.met.deadLetters.WithLabelValues(it.reason).Inc()
			b.log.Debug("message dead-lettered", "topic", it.msg.Topic(), "reason", it.reason, "err", it.detail)
			continue
		}
		if it.kind == kindExcluded {
			continue
		}
		b.met.stored.WithLabelValues(it.kind).Inc()
		if it.ignored > 0 {
			b.met.ignored.WithLabelValues(it.mapping).Add(float64(it.ignored))
		}
		if it.restamped > 0 {
			b.met.restamped.WithLabelValues(it.mapping).Add(float64(it.restamped))
		}
	}
	return true
}

// assignSeqs gives the readings of mapped items seqs from their devices'
// counters, one NextSeqs per device for the whole group, in message order.
// A mapped item whose device id has recorded boots is a Tributary agent's
// (agents record one whenever they start, and number their own readings):
// it is dead-lettered, as seqs assigned here would take the agent's next
// ones (dropped as duplicates) and put foreign readings in its history.
func (b *Bridge) assignSeqs(ctx context.Context, items []item, r *redisState) bool {
	if !b.refuseAgents(ctx, items, r) {
		return false
	}
	need := map[string]int{}
	var order []string
	for i := range items {
		it := &items[i]
		if it.kind != kindMapped || it.reason != "" || len(it.readings) == 0 {
			continue
		}
		if _, ok := need[it.device]; !ok {
			order = append(order, it.device)
		}
		need[it.device] += len(it.readings)
	}
	next := map[string]uint64{}
	for _, dev := range order {
		var first uint64
		if !r.retry(ctx, b, "assign seqs", func(ctx context.Context) error {
			var err error
			first, err = b.st.NextSeqs(ctx, dev, need[dev])
			return err
		}) {
			return false
		}
		next[dev] = first
	}
	for i := range items {
		it := &items[i]
		if it.kind != kindMapped || it.reason != "" {
			continue
		}
		for j := range it.readings {
			it.readings[j].Seq = next[it.device]
			next[it.device]++
		}
	}
	return true
}

// refuseAgents dead-letters the mapped items whose device ids have
// recorded boots, with one EXISTS per device of the group, in one round
// trip.
func (b *Bridge) refuseAgents(ctx context.Context, items []item, r *redisState) bool {
	var devs []string
	seen := map[string]bool{}
	for i := range items {
		it := &items[i]
		if it.kind == kindMapped && it.reason == "" && len(it.readings) > 0 && !seen[it.device] {
			seen[it.device] = true
			devs = append(devs, it.device)
		}
	}
	if len(devs) == 0 {
		return true
	}
	agent := map[string]bool{}
	rdb := b.st.Client()
	if !r.retry(ctx, b, "check device ids", func(ctx context.Context) error {
		pipe := rdb.Pipeline()
		cmds := make([]*redis.IntCmd, len(devs))
		for i, dev := range devs {
			cmds[i] = pipe.Exists(ctx, b.st.BootsKey(dev))
		}
		if _, err := pipe.Exec(ctx); err != nil {
			return err
		}
		for i, dev := range devs {
			agent[dev] = cmds[i].Val() > 0
		}
		return nil
	}) {
		return false
	}
	for i := range items {
		it := &items[i]
		if it.kind == kindMapped && it.reason == "" && agent[it.device] {
			it.dead(ReasonBadDeviceName, "mapping %s: device id %q is a Tributary agent's (it has recorded boots, and numbers its own readings): a foreign device may not write its readings (a device_prefix keeps the mapping's ids apart)", it.mapping, it.device)
		}
	}
	return true
}

// ingest stores the readings of every item with one Ingest. Should the
// store refuse a reading (classify checked them all, so it should not),
// the items are stored one by one and the refused ones dead-lettered.
func (b *Bridge) ingest(ctx context.Context, items []item, r *redisState) bool {
	var all []reading.Reading
	for i := range items {
		all = append(all, items[i].readings...)
	}
	if len(all) == 0 {
		return true
	}
	invalid := false
	ok := r.retry(ctx, b, "ingest", func(ctx context.Context) error {
		start := time.Now()
		res, err := b.st.Ingest(ctx, all)
		if isInvalid(err) || isPoison(err) {
			invalid = true
			return nil
		}
		if err == nil {
			b.met.ingest.Observe(time.Since(start).Seconds())
			b.countStored(res, all)
		}
		return err
	})
	if !ok || !invalid {
		return ok
	}
	for i := range items {
		it := &items[i]
		if len(it.readings) == 0 {
			continue
		}
		if !r.retry(ctx, b, "ingest", func(ctx context.Context) error {
			res, err := b.st.Ingest(ctx, it.readings)
			if isInvalid(err) {
				it.dead(ReasonInvalid, "%v", err)
				return nil
			}
			if isPoison(err) {
				it.dead(ReasonStoreRefused, "%v", err)
				b.log.Warn("redis refused a device's readings for good; dead-lettered", "topic", it.msg.Topic(), "err", err)
				return nil
			}
			if err == nil {
				b.countStored(res, it.readings)
			}
			return err
		}) {
			return false
		}
	}
	return true
}

// countStored counts what an Ingest of rs did, and observes the latency of
// its new readings. Readings Redis refused for good (behind their device's
// dedup window, or stamped too far ahead) are acknowledged with their
// message: retrying cannot store them.
func (b *Bridge) countStored(res store.Result, rs []reading.Reading) {
	b.met.readings.Add(float64(res.Stored))
	now := time.Now()
	for _, i := range res.StoredIndex {
		b.met.latency.Observe(latency.Seconds(rs[i].Time, now))
	}
	b.met.duplicates.Add(float64(res.Duplicates))
	for _, rf := range res.Refusals {
		b.met.refused.WithLabelValues(rf.Reason).Inc()
	}
	if res.Refused > 0 {
		if n, ok := b.refLog.Fail(time.Now()); ok {
			b.log.Warn("redis refused readings for good", "refused", res.Refused, "first_reason", res.Refusals[0].Reason, "since_last_log", n)
		}
	}
}

// writeDeadLetters appends the refused items to the dead-letter stream.
func (b *Bridge) writeDeadLetters(ctx context.Context, items []item, r *redisState) bool {
	var dead []*item
	for i := range items {
		if items[i].reason != "" {
			dead = append(dead, &items[i])
		}
	}
	if len(dead) == 0 {
		return true
	}
	rdb := b.st.Client()
	return r.retry(ctx, b, "dead letter", func(ctx context.Context) error {
		pipe := rdb.Pipeline()
		for _, it := range dead {
			payload := it.msg.Payload()
			truncated := len(payload) > b.opt.DeadLetterPayload
			if truncated {
				payload = payload[:b.opt.DeadLetterPayload]
			}
			pipe.XAdd(ctx, &redis.XAddArgs{
				Stream: b.opt.DeadLetterKey,
				MaxLen: b.opt.DeadLetterMaxLen,
				Approx: true,
				Values: []any{
					"reason", it.reason,
					"error", it.detail,
					"topic", it.msg.Topic(),
					"payload", payload,
					"payload_bytes", strconv.Itoa(len(it.msg.Payload())),
					"truncated", strconv.FormatBool(truncated),
					"ts", it.arrival.UTC().Format(reading.TimeLayout),
				},
			})
		}
		_, err := pipe.Exec(ctx)
		return err
	})
}

// redisState tracks whether Redis is failing, for the metric and for
// logging an outage once (at its start and its end), not at every retry.
type redisState struct {
	down     bool
	since    time.Time
	attempts int
}

// retry runs f until it succeeds or ctx is done, with jittered backoff;
// it reports whether f succeeded.
func (r *redisState) retry(ctx context.Context, b *Bridge, what string, f func(context.Context) error) bool {
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err == nil {
			if r.down {
				b.log.Info("redis reachable again", "down_for", time.Since(r.since).Round(time.Millisecond), "retries", r.attempts)
				r.down = false
			}
			b.met.redisUp.Set(1)
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		b.met.redisErrors.Inc()
		b.met.redisUp.Set(0)
		if !r.down {
			r.down, r.since, r.attempts = true, time.Now(), 0
			b.log.Warn("redis failing; messages stay unacknowledged and are retried", "op", what, "err", err)
		} else {
			b.log.Debug("redis still failing", "op", what, "err", err, "attempt", attempt)
		}
		r.attempts++
		if !backoff.Sleep(ctx, b.retryWait(attempt)) {
			return false
		}
	}
}
