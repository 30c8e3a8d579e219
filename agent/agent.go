package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// Agent samples sensors and sends their readings over an uplink. Create it
// with New and run it once with Run.
type Agent struct {
	cfg     Config
	opt     Options
	up      Uplink
	q       Queue
	m       *metrics
	log     *slog.Logger
	started atomic.Bool

	mu  sync.Mutex // orders seq assignment with queueing
	seq *seqLease

	dupLog *logLimiter // used by the sender goroutine only
}

// New checks cfg, fills in defaults, creates the state dir and registers
// the metrics. It reads no sensor and contacts no uplink.
func New(cfg Config, up Uplink, opt Options) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if up == nil {
		return nil, errors.New("agent: no uplink")
	}
	opt = opt.withDefaults()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: state dir: %w", err)
	}
	a := &Agent{cfg: cfg, opt: opt, up: up, q: opt.Queue, log: opt.Logger,
		dupLog: &logLimiter{every: opt.LogEvery, now: opt.Now}}
	a.m = newMetrics(a.q.Len)
	names := make([]string, len(cfg.Sensors))
	for i, s := range cfg.Sensors {
		names[i] = s.Sensor.Name()
	}
	if err := a.m.register(opt.Registerer, names); err != nil {
		return nil, err
	}
	return a, nil
}

// Device returns the agent's device id.
func (a *Agent) Device() string { return a.cfg.Device }

// Run samples every sensor on its interval and sends the readings until ctx
// ends. Then it stops sampling, keeps sending what is queued for at most
// Options.FlushTimeout, persists the seq and returns nil. It returns an
// error only if it cannot start (the seq lease is unreadable) or cannot
// persist the seq at the end. Run may be called once.
func (a *Agent) Run(ctx context.Context) error {
	if !a.started.CompareAndSwap(false, true) {
		return errors.New("agent: Run called twice")
	}
	seq, err := loadSeq(a.cfg.StateDir, a.cfg.Device, a.opt.LeaseSize)
	if err != nil {
		return err
	}
	a.seq = seq
	if seq.fresh {
		a.resumeSeq(ctx)
	}
	a.log.Info("agent started", "device", a.cfg.Device, "sensors", len(a.cfg.Sensors), "next_seq", seq.next)

	// The sender outlives ctx for the flush; it gets its own context.
	sendCtx, cancelSend := context.WithCancel(context.WithoutCancel(ctx))
	defer cancelSend()
	waitCtx, stopWaiting := context.WithCancel(sendCtx)
	defer stopWaiting()
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		a.send(sendCtx, waitCtx)
	}()

	var wg sync.WaitGroup
	for _, s := range a.cfg.Sensors {
		wg.Go(func() { a.sample(ctx, s) })
	}
	<-ctx.Done()
	wg.Wait()

	// Sampling has stopped: send what is queued, within the flush timeout.
	stopWaiting()
	flush := time.NewTimer(a.opt.FlushTimeout)
	defer flush.Stop()
	select {
	case <-senderDone:
	case <-flush.C:
		cancelSend()
		<-senderDone
	}
	if n := a.q.Len(); n > 0 {
		a.log.Warn("agent stopped with readings not sent", "device", a.cfg.Device, "queued", n)
	}
	a.mu.Lock()
	err = a.seq.close()
	next := a.seq.next
	a.mu.Unlock()
	if err != nil {
		return err
	}
	a.log.Info("agent stopped", "device", a.cfg.Device, "next_seq", next)
	return nil
}

// sample reads s now and then every interval until ctx ends.
func (a *Agent) sample(ctx context.Context, s SensorConfig) {
	lim := &logLimiter{every: a.opt.LogEvery, now: a.opt.Now}
	t := time.NewTicker(s.Interval)
	defer t.Stop()
	for {
		a.readOnce(ctx, s, lim)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// readOnce reads s once and queues its readings.
func (a *Agent) readOnce(ctx context.Context, s SensorConfig, lim *logLimiter) {
	name := s.Sensor.Name()
	rctx, cancel := context.WithTimeout(ctx, s.Interval)
	samples, err := s.Sensor.Read(rctx)
	cancel()
	if ctx.Err() != nil {
		return // stopping; a read cut short is not an error
	}
	if err != nil {
		a.m.sensorErrors.WithLabelValues(name).Inc()
		if n, ok := lim.fail(); ok {
			a.log.Warn("sensor read failed", "sensor", name, "err", err, "errors_since_last_log", n)
		}
		return
	}
	if n, ok := lim.ok(); ok {
		a.log.Info("sensor recovered", "sensor", name, "errors", n)
	}
	now := a.opt.Now().UTC().Truncate(time.Millisecond)
	rs := make([]reading.Reading, 0, len(samples))
	for _, smp := range samples {
		r := reading.Reading{Device: a.cfg.Device, Sensor: name, Metric: smp.Metric, Value: smp.Value, Unit: smp.Unit, Time: now, Seq: 1}
		if err := r.Validate(); err != nil {
			a.m.sensorErrors.WithLabelValues(name).Inc()
			a.m.dropped.WithLabelValues(DropInvalid).Inc()
			if n, ok := lim.fail(); ok {
				a.log.Warn("sensor returned an invalid sample", "sensor", name, "err", err, "errors_since_last_log", n)
			}
			continue
		}
		rs = append(rs, r)
	}
	a.emit(name, rs)
}

// emit numbers rs and queues them, under one lock so that the queue is in
// seq order.
func (a *Agent) emit(sensor string, rs []reading.Reading) {
	if len(rs) == 0 {
		return
	}
	a.mu.Lock()
	first, err := a.seq.take(len(rs))
	if err != nil {
		a.mu.Unlock()
		a.m.dropped.WithLabelValues(DropSeqLease).Add(float64(len(rs)))
		a.log.Error("cannot number readings; dropping them", "sensor", sensor, "err", err)
		return
	}
	for i := range rs {
		rs[i].Seq = first + uint64(i)
	}
	dropped := a.q.Push(rs)
	a.mu.Unlock()
	a.m.readings.WithLabelValues(sensor).Add(float64(len(rs)))
	if dropped > 0 {
		a.m.dropped.WithLabelValues(DropQueueFull).Add(float64(dropped))
	}
}

// resumeSeqTimeout bounds the start-up question to the uplink.
const resumeSeqTimeout = 5 * time.Second

// resumeSeq asks an uplink that can tell (SeqResumer) for the device's last
// stored seq, when the state dir had no lease. If it cannot answer now, the
// agent starts at 1 and says so: readings Redis already holds under those
// seqs are then counted as duplicates.
func (a *Agent) resumeSeq(ctx context.Context) {
	r, ok := a.up.(SeqResumer)
	if !ok {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, resumeSeqTimeout)
	defer cancel()
	last, err := r.LastSeq(ctx, a.cfg.Device)
	if err != nil {
		a.log.Warn("no seq lease in the state dir and the uplink cannot say where the device left off; starting at 1",
			"device", a.cfg.Device, "state_dir", a.cfg.StateDir, "err", err)
		return
	}
	if last > 0 {
		a.log.Warn("no seq lease in the state dir; resuming after the last seq the uplink stored",
			"device", a.cfg.Device, "state_dir", a.cfg.StateDir, "last_seq", last)
		a.seq.resumeAfter(last)
	}
}
