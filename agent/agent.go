package agent

import (
	"context"
	"errors"
	"fmt"
	"github.com/tributary-iot/tributary/internal/lograte"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"time"
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
	upState uplinkState // what the sends found

	sensors []*sensorRun

	mu      sync.Mutex // orders seq assignment with queueing, and guards:
	seq     *seqLease
	held    []heldReading        // taken while the clock was not ready
	lastTS  map[string]time.Time // newest time stamped per sensor
	clockOK bool                 // the clock has been ready

	dupLog   *lograte.Limiter // used by the sender goroutine only
	refLog   *lograte.Limiter // of refused readings; sender goroutine only
	leaseLog *lograte.Limiter // of seq lease failures; under mu
	dropLog  *lograte.Limiter // of queue drops; under mu

	lost      *lossLedger // the drop counts, persisted
	lossLogMu sync.Mutex
	lossLog   *lograte.Limiter // of failures to persist them; under lossLogMu
}

// New checks cfg, fills in defaults, creates the state dir, reads the
// counts of readings dropped before (kept there) and registers the
// metrics, those counts included. It reads no sensor and contacts no uplink.
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
	if cfg.Boot == "" {
		if cfg.Boot, err = NewBoot(cfg.StateDir, cfg.Device); err != nil {
			return nil, err
		}
	}
	lost, damaged, err := openLossLedger(lossPath(cfg.StateDir, cfg.Device))
	if err != nil {
		return nil, err
	}
	if damaged {
		opt.Logger.Warn("the counts of readings dropped before this start are damaged; counting again from zero",
			"device", cfg.Device, "path", lossPath(cfg.StateDir, cfg.Device))
	}
	a := &Agent{cfg: cfg, opt: opt, up: up, q: opt.Queue, log: opt.Logger,
		dupLog: &lograte.Limiter{Every: opt.LogEvery}, refLog: &lograte.Limiter{Every: opt.LogEvery}, leaseLog: &lograte.Limiter{Every: opt.LogEvery},
		dropLog: &lograte.Limiter{Every: opt.LogEvery}, lost: lost, lossLog: &lograte.Limiter{Every: opt.LogEvery}}
	a.m = newMetrics(a.q.Len, a.heldLen, uplinkKind(up))
	a.lastTS = map[string]time.Time{}
	for _, s := range cfg.Sensors {
		st := SensorStarting
		a.sensors = append(a.sensors, &sensorRun{cfg: s,
			lim:     &lograte.Limiter{Every: opt.LogEvery},
			invalid: &lograte.Limiter{Every: opt.LogEvery},
			h:       SensorHealth{Sensor: s.Sensor.Name(), State: st, Simulated: s.Simulated}})
	}
	if err := a.m.register(opt.Registerer, cfg.Sensors, lost); err != nil {
		return nil, err
	}
	return a, nil
}

// Device returns the agent's device id.
func (a *Agent) Device() string { return a.cfg.Device }

// Run samples every sensor on its interval and sends the readings until ctx
// ends. Then it stops sampling (it does not wait for a Read that ignores
// ctx: see Failures in the package doc), keeps sending what is queued for
// at most Options.FlushTimeout, persists the seq and returns nil. It
// returns an error only if it cannot start (the seq lease is unreadable)
// or cannot persist the seq at the end. Run may be called once.
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
	started := time.Now()
	boot := Boot{Device: a.cfg.Device, ID: a.cfg.Boot, FirstSeq: seq.next}
	if a.clockTrusted() {
		boot.Time = a.opt.Now().UTC().Truncate(time.Millisecond)
	}
	a.addPendingBoot(boot)
	a.log.Info("agent started", "device", a.cfg.Device, "boot", a.cfg.Boot, "sensors", len(a.cfg.Sensors), "next_seq", seq.next)
	a.logLosses()

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
	bootsDone := make(chan struct{})
	go func() {
		defer close(bootsDone)
		a.announceBoots(sendCtx, boot, started)
	}()

	var wg sync.WaitGroup
	for _, s := range a.sensors {
		wg.Go(func() { a.sample(ctx, s) })
	}
	<-ctx.Done()
	wg.Wait()
	a.dropHeld()

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
	// A boot the uplink has not recorded yet stays pending in the state
	// dir; the next run announces it.
	cancelSend()
	<-bootsDone
	if n := a.q.Len(); n > 0 {
		if _, mem := a.q.(*MemQueue); mem {
			a.lose(DropShutdown, n)
			a.log.Warn("agent stopped with readings not sent, in memory: lost", "device", a.cfg.Device, "lost", n)
		} else {
			a.log.Warn("agent stopped with readings not sent", "device", a.cfg.Device, "queued", n)
		}
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

// resumeSeqTimeout bounds the start-up question to the uplink.
const resumeSeqTimeout = 5 * time.Second

// resumeSeq asks an uplink that can tell (SeqResumer) for the device's last
// stored seq, when the state dir had no lease. If it cannot answer now (or
// its answer leaves too few seqs), the agent starts from its clock or at 1
// and says so: the store opens a new dedup window for readings stamped
// after its stored ones; others it may count as duplicates.
func (a *Agent) resumeSeq(ctx context.Context) {
	var err error
	if r, ok := a.up.(SeqResumer); ok {
		rctx, cancel := context.WithTimeout(ctx, resumeSeqTimeout)
		var last uint64
		last, err = r.LastSeq(rctx, a.cfg.Device)
		cancel()
		if err == nil && last > 0 && !a.seq.resumeAfter(last) {
			err = fmt.Errorf("its last seq %d leaves too few after it", last)
		} else if err == nil {
			if last > 0 {
				a.log.Warn("no seq lease in the state dir; resuming after the last seq the uplink stored",
					"device", a.cfg.Device, "state_dir", a.cfg.StateDir, "last_seq", last)
			}
			return
		}
	} else {
		err = errors.New("this uplink cannot tell")
	}
	// Nobody can say where the device left off. Seqs from the clock
	// (milliseconds x 1000) lie beyond any this device used before, as long
	// as it never made more than a thousand readings a millisecond, so that
	// its new readings are not taken for repeats of old ones.
	if a.opt.SeqFromClock && a.clockTrusted() {
		from := uint64(a.opt.Now().UnixMilli()) * 1000
		a.log.Warn("no seq lease in the state dir and the uplink cannot say where the device left off; starting from the clock so that no new reading is taken for a repeat",
			"device", a.cfg.Device, "state_dir", a.cfg.StateDir, "next_seq", from+1, "err", err)
		a.seq.resumeAfter(from)
		return
	}
	a.log.Warn("no seq lease in the state dir and the uplink cannot say where the device left off: starting at 1; the cloud takes readings stamped after its stored ones for a restart, and may drop others as repeats",
		"device", a.cfg.Device, "state_dir", a.cfg.StateDir, "err", err)
}
