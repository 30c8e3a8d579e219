package bridge

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/backoff"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/store"
)

// Commands to actuators, both ways: commands from the Redis outbox to each
// device's commands topic, and the devices' command events from their
// events topics into Redis (store.ReportEvents).

// reportEvents stores the command events of every item, in order; a batch
// the store refuses for good is dead-lettered.
func (b *Bridge) reportEvents(ctx context.Context, items []item, r *redisState) bool {
	for i := range items {
		it := &items[i]
		if len(it.events) == 0 {
			continue
		}
		if !r.retry(ctx, b, "report events", func(ctx context.Context) error {
			err := b.st.ReportEvents(ctx, it.device, it.events)
			switch {
			case errors.Is(err, command.ErrInvalid):
				it.dead(ReasonInvalid, "%v", err)
				return nil
			case isPoison(err):
				it.dead(ReasonStoreRefused, "%v", err)
				return nil
			case err == nil:
				b.met.eventsRelayed.Add(float64(len(it.events)))
			}
			return err
		}) {
			return false
		}
	}
	return true
}

// commandBlock is how long one read of the outbox waits: Run's shutdown
// waits for it at most this long.
const commandBlock = time.Second

// relayCommands publishes the outbox's commands to their devices' topics
// (QoS 1) until ctx ends, acknowledging each in Redis once the broker has
// it. Entries another bridge of the group left unacknowledged for
// CommandClaimIdle are taken over. A command whose publication failed is
// published again, in order, before anything newer.
func (b *Bridge) relayCommands(ctx context.Context) {
	r := &relayState{b: b}
	if !r.retry(ctx, "command outbox group", func(ctx context.Context) error {
		return b.st.EnsureOutboxGroup(ctx, b.opt.CommandGroup)
	}) {
		return
	}
	var todo []store.OutboxEntry
	lastClaim := time.Time{}
	failures := 0
	for ctx.Err() == nil {
		if len(todo) == 0 && !b.client.IsConnectionOpen() {
			// Take nothing while the broker is away: another bridge of
			// the group may relay it meanwhile.
			backoff.Sleep(ctx, 100*time.Millisecond)
			continue
		}
		if len(todo) == 0 && time.Since(lastClaim) >= b.opt.CommandClaimIdle/2 {
			lastClaim = time.Now()
			if !r.retry(ctx, "claim commands", func(ctx context.Context) error {
				var err error
				todo, err = b.st.ClaimOutbox(ctx, b.opt.CommandGroup, b.clientID, b.opt.CommandClaimIdle, store.MaxCommandRead)
				return err
			}) {
				return
			}
		}
		if len(todo) == 0 {
			if !r.retry(ctx, "read commands", func(ctx context.Context) error {
				var err error
				todo, err = b.st.ReadOutbox(ctx, b.opt.CommandGroup, b.clientID, store.MaxCommandRead, commandBlock)
				return err
			}) {
				return
			}
			continue
		}
		e := todo[0]
		if e.Err != nil {
			b.met.commandsRefused.Inc()
			b.log.Warn("dropped an outbox entry that is not a command", "entry", e.ID, "err", e.Err)
		} else if err := b.publishCommand(ctx, e.Command); err != nil {
			if ctx.Err() != nil {
				return
			}
			if failures == 0 {
				b.log.Warn("cannot publish a command; retrying", "device", e.Command.Device, "command", e.Command.ID, "err", err)
			}
			failures++
			backoff.Sleep(ctx, b.retryWait(failures-1))
			continue
		} else {
			b.met.commandsRelayed.Inc()
		}
		failures = 0
		if !r.retry(ctx, "ack command", func(ctx context.Context) error {
			return b.st.AckOutbox(ctx, b.opt.CommandGroup, e.ID)
		}) {
			return
		}
		todo = todo[1:]
	}
}

// relayState retries the relay's Redis operations. It keeps apart from the
// readings' path (redisState): the relay's failures neither count in
// tributary_bridge_redis_errors_total nor set tributary_bridge_redis_up,
// which say whether readings are being stored. A Redis that lost the
// consumer group (a restart without persistence) gets it again.
type relayState struct {
	b    *Bridge
	down bool
}

func (r *relayState) retry(ctx context.Context, what string, f func(context.Context) error) bool {
	for attempt := 0; ; attempt++ {
		err := f(ctx)
		if err != nil && strings.Contains(err.Error(), "NOGROUP") {
			if gerr := r.b.st.EnsureOutboxGroup(ctx, r.b.opt.CommandGroup); gerr == nil {
				err = f(ctx)
			}
		}
		if err == nil {
			if r.down {
				r.b.log.Info("command relay: redis reachable again")
				r.down = false
			}
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		if !r.down {
			r.down = true
			r.b.log.Warn("command relay: redis failing; retrying", "op", what, "err", err)
		}
		if !backoff.Sleep(ctx, r.b.retryWait(attempt)) {
			return false
		}
	}
}

// errBrokerDown is a publication tried while the broker is away.
var errBrokerDown = errors.New("not connected to the MQTT broker")

// publishCommand publishes c to its device's topic, QoS 1, and waits for the
// broker's acknowledgement (at most 30s).
func (b *Bridge) publishCommand(ctx context.Context, c command.Command) error {
	if !b.client.IsConnectionOpen() {
		return errBrokerDown
	}
	tok := b.client.Publish(mqttwire.CommandsTopic(c.Device), 1, false, c.AppendJSON(nil))
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case <-tok.Done():
		return tok.Error()
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("no acknowledgement from the broker within 30s")
	}
}
