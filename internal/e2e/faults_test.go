package e2e

// The fault tests of the store-and-forward promise: every reading a sensor
// produced reaches Redis exactly once, in order per device, or its loss is
// counted. Real edge and bridge processes, a real redis-server and a real
// mosquitto; the faults are real too (SIGKILL, servers stopped and
// restarted). Each test counts the readings produced, stored, duplicated
// and missing per device and logs them (go test -v shows the figures).
//
// The outages last $TRIBUTARY_FAULT_OUTAGE (default 30s); the random kill
// moments replay from $TRIBUTARY_FAULT_SEED. The tests run in parallel with
// one another; each has servers of its own.

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/store"
)

// fastSampling is what every agent of the fault tests samples at: about
// 200 readings a second from the simulated sensors.
const fastSampling = "20ms"

// checkTally fails the test unless c shows every reading stored once and
// in order.
func checkTally(t *testing.T, device string, c tally) {
	t.Helper()
	if c.missing != 0 || c.duplicated != 0 || c.disordered != 0 || c.stray != 0 || c.stored != c.produced {
		t.Errorf("%s: want every reading stored once, in order: %v", device, c)
	}
}

// Redis crashes (SIGKILL; its append-only file keeps what it acknowledged)
// while two agents sample straight into it, stays down for the outage and
// comes back: the agents spool the backlog, drain it in order at their
// drain rate, and afterwards every reading is in Redis once, in order.
func TestFaultRedisOutage(t *testing.T) {
	t.Parallel()
	outage := faultOutage(t)
	rd := redistest.Start(t, durable)
	st := storeOf(t, rd)
	devices := []string{"outage-a", "outage-b"}
	agents := make([]*edgeProc, len(devices))
	for i, d := range devices {
		agents[i] = startEdgeProc(t, d, "--redis", rd.URL(), "--interval", fastSampling,
			"--spool-sync", "interval", "--state-dir", t.TempDir())
	}
	awaitStored(t, st, devices, 200)

	rd.Kill()
	down := time.Now()
	before := make([]float64, len(agents))
	for i, a := range agents {
		before[i] = a.scrape(t).sum("tributary_edge_readings_total")
	}
	time.Sleep(outage) // the outage itself: the agents sample on
	for i, a := range agents {
		m := a.scrape(t)
		sampled, backlog := m.sum("tributary_edge_readings_total")-before[i], m.sum("tributary_edge_spool_readings")
		t.Logf("%s: %v into the outage: %.0f readings sampled during it, %.0f in the spool", a.device, time.Since(down).Round(time.Millisecond), sampled, backlog)
		if backlog < sampled/2 || m.sum("tributary_edge_uplink_up") != 0 {
			t.Fatalf("%s: the spool holds %.0f readings of the %.0f sampled during the outage; uplink up %v",
				a.device, backlog, sampled, m.sum("tributary_edge_uplink_up"))
		}
	}
	rd.Restart(t)
	back := time.Now()
	for _, a := range agents {
		a.awaitDrained(t, a.device+": the backlog drained", 2*time.Minute)
		t.Logf("%s: backlog drained %v after Redis came back", a.device, time.Since(back).Round(time.Millisecond))
	}

	for _, a := range agents {
		m := a.scrape(t)
		if drops := m.drops(); drops != 0 {
			t.Errorf("%s: %v readings dropped", a.device, drops)
		}
		if m.sum("tributary_edge_uplink_errors_total") == 0 {
			t.Errorf("%s: no uplink error counted: the outage went unnoticed", a.device)
		}
		boots := []bootRun{{id: a.boot, first: a.first, next: a.terminate(t)}}
		checkTally(t, a.device, audit(t, st, a.device, boots))
		if rec := recordedBoots(t, st, a.device, boots); !rec[0] {
			t.Errorf("%s: boot %s not recorded", a.device, a.boot)
		}
	}
}

// mqttRig is the MQTT path: a persistent mosquitto with passwords and the
// shipped ACL, a bridge process to a durable Redis, and the agents'
// password files.
type mqttRig struct {
	mq       *mosquittotest.Server
	rd       *redistest.Server
	st       *store.Store
	bridge   *proctest.Proc
	metrics  string // the running bridge's /metrics
	devices  []string
	pwFiles  map[string]string
	bridgeAr []string
}

// bridgeClientID is the bridge's MQTT client id, its user name: stable
// across its restarts, so the broker keeps its session and what it did not
// acknowledge.
const bridgeClientID = "tributary-bridge-1"

func newMQTTRig(t *testing.T, devices ...string) *mqttRig {
	t.Helper()
	users := map[string]string{bridgeClientID: "bridge-pw"}
	for _, d := range devices {
		users[d] = d + "-pw"
	}
	r := &mqttRig{devices: devices, pwFiles: map[string]string{}}
	r.mq = mosquittotest.Start(t, mosquittotest.Options{
		Users:       users,
		ACLFile:     filepath.Join("..", "..", "deploy", "mosquitto", "acl"),
		Persistence: true,
		// subscribe: the test awaits the bridge's subscription in the log.
		LogTypes: []string{"error", "warning", "notice", "information", "subscribe"},
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("--- mosquitto log:\n%s", r.mq.Log())
		}
	})
	r.rd = redistest.Start(t, durable)
	r.st = storeOf(t, r.rd)
	dir := t.TempDir()
	for _, d := range devices {
		r.pwFiles[d] = writeSecret(t, dir, d+".pw", users[d])
	}
	r.bridgeAr = []string{"--mqtt", r.mq.URL(), "--mqtt-username", bridgeClientID,
		"--mqtt-password-file", writeSecret(t, dir, "bridge.pw", "bridge-pw"),
		"--client-id", bridgeClientID, "--redis", r.rd.URL(), "--metrics-listen", "127.0.0.1:0"}
	r.startBridge(t)
	// Readings published before the bridge's subscription would reach no
	// one: that is setup, not a fault.
	eventually(t, "the bridge subscribed", 30*time.Second, func() bool {
		return regexpMatch(bridgeClientID+` 1 tributary/\+/readings`, r.mq.Log())
	})
	return r
}

func (r *mqttRig) startBridge(t *testing.T) {
	t.Helper()
	r.bridge = proctest.Start(t, "bridge", binPath(t, "bridge"), r.bridgeAr...)
	r.metrics = r.bridge.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, 30*time.Second)
	r.bridge.Await(t, `msg="mqtt connected"`, 30*time.Second)
}

// bridgeReport logs what the running bridge did and fails the test on a
// dead letter: the agents publish nothing malformed.
func (r *mqttRig) bridgeReport(t *testing.T, run string) {
	t.Helper()
	m := scrapeURL(t, r.metrics)
	t.Logf("bridge, %s: %.0f messages received, %.0f readings stored, %.0f repeats dropped", run,
		m.sum("tributary_bridge_messages_received_total"), m.sum("tributary_bridge_readings_stored_total"), m.sum("tributary_bridge_duplicate_readings_total"))
	if d := m.sum("tributary_bridge_dead_letters_total"); d != 0 {
		t.Errorf("bridge, %s: %v dead letters", run, d)
	}
}

// startAgents starts an agent for each of the rig's devices.
func (r *mqttRig) startAgents(t *testing.T) []*edgeProc {
	t.Helper()
	var agents []*edgeProc
	for _, d := range r.devices {
		agents = append(agents, startEdgeProc(t, d, "--mqtt", r.mq.URL(), "--mqtt-password-file", r.pwFiles[d],
			"--interval", fastSampling, "--spool-sync", "interval", "--state-dir", t.TempDir()))
	}
	return agents
}

// finish stops the agents with SIGTERM (they flush their spools to the
// broker), waits until the bridge has stored their last readings and
// audits every device.
func (r *mqttRig) finish(t *testing.T, agents []*edgeProc) {
	t.Helper()
	next := make([]uint64, len(agents))
	for i, a := range agents {
		m := a.scrape(t)
		if drops := m.drops(); drops != 0 {
			t.Errorf("%s: %v readings dropped", a.device, drops)
		}
		next[i] = a.terminate(t)
		if q := a.Log.Last(`msg="agent stopped with readings not sent" .* queued=(\d+)`); q != "" {
			t.Errorf("%s: stopped with %s readings not sent to the broker", a.device, q)
		}
	}
	for i, a := range agents {
		eventually(t, fmt.Sprintf("%s: seq %d stored", a.device, next[i]-1), time.Minute, func() bool {
			s, _ := r.st.LastSeq(t.Context(), a.device)
			return s >= next[i]-1
		})
	}
	r.bridgeReport(t, "last run")
	for i, a := range agents {
		boots := []bootRun{{id: a.boot, first: a.first, next: next[i]}}
		checkTally(t, a.device, audit(t, r.st, a.device, boots))
		if rec := recordedBoots(t, r.st, a.device, boots); !rec[0] {
			t.Errorf("%s: boot %s not recorded by the bridge", a.device, a.boot)
		}
	}
}

// The MQTT path under faults: agents publish to mosquitto (QoS 1,
// persistent sessions, per-device passwords, the shipped ACL, persistence
// on) and a bridge process stores in Redis. (a) The broker is stopped for
// the outage and restarted; (b) the bridge is killed with SIGKILL twice
// and restarted with the same client id; (c) Redis crashes under the
// bridge for the outage (the bridge acknowledges nothing meanwhile, and
// the broker keeps the messages for it). Afterwards every reading is in
// Redis once, in order.
func TestFaultMQTT(t *testing.T) {
	t.Parallel()
	outage := faultOutage(t)
	t.Run("broker stopped", func(t *testing.T) {
		t.Parallel()
		r := newMQTTRig(t, "mq-stop-a", "mq-stop-b")
		agents := r.startAgents(t)
		awaitStored(t, r.st, r.devices, 200)
		r.mq.Stop() // SIGTERM: the broker saves sessions and queued messages
		time.Sleep(outage)
		for _, a := range agents {
			if m := a.scrape(t); m.sum("tributary_edge_spool_readings") < 100 {
				t.Fatalf("%s: %v readings spooled during the outage", a.device, m.sum("tributary_edge_spool_readings"))
			}
		}
		r.mq.Restart(t)
		back := time.Now()
		for _, a := range agents {
			a.awaitDrained(t, a.device+": the backlog drained", 2*time.Minute)
			t.Logf("%s: backlog drained %v after the broker came back", a.device, time.Since(back).Round(time.Millisecond))
		}
		r.finish(t, agents)
	})
	t.Run("bridge killed", func(t *testing.T) {
		t.Parallel()
		r := newMQTTRig(t, "mq-kill-a", "mq-kill-b")
		agents := r.startAgents(t)
		stored := func() int64 {
			n := int64(0)
			for _, d := range r.devices {
				n += streamLen(r.st, d)
			}
			return n
		}
		sent := func() float64 {
			n := 0.0
			for _, a := range agents {
				n += a.scrape(t).sum("tributary_edge_sent_readings_total")
			}
			return n
		}
		for kill := 1; kill <= 2; kill++ {
			target := stored() + 400
			eventually(t, fmt.Sprintf("%d readings stored before kill %d", target, kill), time.Minute, func() bool { return stored() >= target })
			r.bridgeReport(t, fmt.Sprintf("run %d, just before its SIGKILL", kill))
			r.bridge.Kill(t)
			// The agents go on publishing; the broker queues for the
			// bridge's session.
			s := sent()
			eventually(t, "the agents publish while the bridge is down", time.Minute, func() bool { return sent() >= s+300 })
			r.startBridge(t)
		}
		r.finish(t, agents)
	})
	t.Run("redis crashed under the bridge", func(t *testing.T) {
		t.Parallel()
		r := newMQTTRig(t, "mq-redis-a", "mq-redis-b")
		agents := r.startAgents(t)
		awaitStored(t, r.st, r.devices, 200)
		r.rd.Kill()
		time.Sleep(outage)
		for _, a := range agents {
			// The broker takes the readings: the agents need not spool them.
			if m := a.scrape(t); m.sum("tributary_edge_uplink_up") != 1 || m.sum("tributary_edge_spool_readings") > 100 {
				t.Errorf("%s: uplink up %v, %v readings spooled, during a Redis outage behind the broker",
					a.device, m.sum("tributary_edge_uplink_up"), m.sum("tributary_edge_spool_readings"))
			}
		}
		if m := scrapeURL(t, r.metrics); m.sum("tributary_bridge_redis_up") != 0 {
			t.Errorf("bridge: redis_up %v during the outage", m.sum("tributary_bridge_redis_up"))
		}
		r.rd.Restart(t)
		r.finish(t, agents)
	})
}

// faultSeedEnv names the environment variable that replays the random
// kill moments of TestFaultAgentKilled: the seed a run logged.
const faultSeedEnv = "TRIBUTARY_FAULT_SEED"

// The agent killed with SIGKILL five times at random moments while it
// sends, and restarted each time with the same state dir and spool: no
// reading the spool acknowledged is lost and none is stored twice. A
// killed boot skips at most a lease of seqs; each boot's readings are
// judged from its first seq (its "agent started" line, which the boots
// stream in Redis must agree with) up to its highest stored seq, and at
// least up to what its /metrics counted as spooled just before the kill.
//
// The cases: straight to Redis with fsync always, twice with Redis frozen
// at the kill so that a stored batch's acknowledgement is lost; the same
// with fsync never (kill -9 loses nothing under any policy); Redis down
// across two kills, so that the spool carries a backlog from boot to
// boot, and two more kills in the middle of its drain; and through
// mosquitto and the bridge.
func TestFaultAgentKilled(t *testing.T) {
	t.Parallel()
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv(faultSeedEnv); v != "" {
		var err error
		if seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			t.Fatalf("$%s=%q: %v", faultSeedEnv, v, err)
		}
	}
	t.Logf("random seed %d (%s=%d replays the kill moments)", seed, faultSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, 0))
	type phase struct {
		redisDown bool // Redis is down during this boot
		midDrain  bool // kill once this boot has sent part of the backlog
		// ackLost freezes Redis (SIGSTOP) before the kill, so that the
		// agent dies waiting for the reply to a send; thawed, Redis stores
		// that batch, which the spool never saw acknowledged: the next
		// boot sends it again, and Redis must drop it as a repeat.
		ackLost bool
	}
	for _, tc := range []struct {
		name   string
		sync   string // --spool-sync
		mqtt   bool   // through mosquitto and a bridge instead of straight to Redis
		phases []phase
	}{
		{"redis up", "always", false, []phase{{}, {ackLost: true}, {}, {ackLost: true}, {}}},
		// kill -9 loses nothing under any fsync policy: a Push that
		// returned has reached the page cache, which outlives the process.
		{"redis up, fsync never", "never", false, []phase{{}, {ackLost: true}, {}, {}, {}}},
		{"redis down across kills", "always", false, []phase{{}, {redisDown: true}, {redisDown: true}, {midDrain: true}, {midDrain: true}}},
		// Killed while publishing: what the broker had not acknowledged
		// is still spooled and published again by the next boot.
		{"through mqtt", "always", true, []phase{{}, {}, {}, {}, {}}},
	} {
		// Each case draws its kill moments now, so that the seed says them:
		// 0.3 to 2.3 s into a boot; 0 to 1 s after a boot with Redis down
		// has spooled 1000 readings, so that the backlog grows past 2000;
		// 0 to 0.5 s after a draining boot has sent its first batch (the
		// drain rate lets the next one go 2 s later), so that it dies with
		// most of the backlog still spooled.
		waits := make([]time.Duration, len(tc.phases))
		for i, ph := range tc.phases {
			switch {
			case ph.redisDown:
				waits[i] = time.Duration(rng.Int64N(int64(time.Second)))
			case ph.midDrain:
				waits[i] = time.Duration(rng.Int64N(int64(500 * time.Millisecond)))
			default:
				waits[i] = 300*time.Millisecond + time.Duration(rng.Int64N(int64(2*time.Second)))
			}
		}
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			const device = "killed"
			var (
				rd     *redistest.Server
				st     *store.Store
				uplink []string
			)
			if tc.mqtt {
				r := newMQTTRig(t, device)
				rd, st = r.rd, r.st
				uplink = []string{"--mqtt", r.mq.URL(), "--mqtt-password-file", r.pwFiles[device]}
			} else {
				rd = redistest.Start(t, durable)
				st = storeOf(t, rd)
				uplink = []string{"--redis", rd.URL()}
			}
			args := append(uplink, "--interval", fastSampling, "--spool-sync", tc.sync,
				"--state-dir", t.TempDir(), "--drain-rate", "250")
			var boots []bootRun
			redisUp := true
			for i, ph := range tc.phases {
				if ph.redisDown && redisUp {
					rd.Kill()
					redisUp = false
				}
				if !ph.redisDown && !redisUp {
					rd.Restart(t)
					redisUp = true
				}
				a := startEdgeProc(t, device, args...)
				if ph.midDrain {
					if a.spooled == 0 {
						t.Fatalf("boot %d: the spool is empty at start; want a backlog to drain", i+1)
					}
					eventually(t, "part of the backlog sent", time.Minute, func() bool {
						return a.scrape(t).sum("tributary_edge_sent_readings_total") >= 200
					})
				}
				if ph.redisDown {
					eventually(t, "1000 readings spooled with Redis down", time.Minute, func() bool {
						return a.scrape(t).sum("tributary_edge_readings_total") >= 1000
					})
				}
				time.Sleep(waits[i]) // a random moment
				if ph.ackLost {
					rd.Signal(t, syscall.SIGSTOP)
					// The sender is stuck in a send once readings pile up.
					eventually(t, "readings piling up behind a send to the frozen Redis", 30*time.Second, func() bool {
						return a.scrape(t).sum("tributary_edge_spool_readings") >= 20
					})
				}
				m := a.scrape(t)
				a.Kill(t)
				if ph.ackLost {
					rd.Signal(t, syscall.SIGCONT)
				}
				if i > 0 && tc.phases[i-1].ackLost && m.sum("tributary_edge_duplicate_readings_total") == 0 {
					t.Errorf("boot %d: no duplicate counted: the batch whose acknowledgement was lost did not come again", i+1)
				}
				if ph.midDrain && m.sum("tributary_edge_spool_readings") <= 500 {
					t.Fatalf("boot %d: %v readings spooled just before the kill: want the kill in the middle of the drain (more than a batch left)",
						i+1, m.sum("tributary_edge_spool_readings"))
				}
				if d := m.agentDrops() + m.sum("tributary_edge_spool_dropped_total"); d != 0 {
					t.Errorf("boot %s: %v readings dropped", a.boot, d)
				}
				boots = append(boots, bootRun{id: a.boot, first: a.first, acked: uint64(m.sum("tributary_edge_readings_total"))})
				t.Logf("boot %d (%s): started with %d spooled, killed %v after its cue: %.0f readings produced, %.0f sent (%.0f of them repeats Redis dropped), %.0f in the spool at the last scrape",
					i+1, a.boot, a.spooled, waits[i], m.sum("tributary_edge_readings_total"), m.sum("tributary_edge_sent_readings_total"),
					m.sum("tributary_edge_duplicate_readings_total"), m.sum("tributary_edge_spool_readings"))
			}
			if !redisUp {
				rd.Restart(t)
			}
			last := startEdgeProc(t, device, append(args, "--drain-rate", "-1")...)
			last.awaitDrained(t, "the backlog drained", 2*time.Minute)
			m := last.scrape(t)
			if d := m.agentDrops() + m.sum("tributary_edge_spool_dropped_total"); d != 0 {
				t.Errorf("last boot: %v readings dropped", d)
			}
			next := last.terminate(t)
			boots = append(boots, bootRun{id: last.boot, first: last.first, next: next})
			eventually(t, fmt.Sprintf("seq %d stored", next-1), time.Minute, func() bool {
				s, _ := st.LastSeq(t.Context(), device)
				return s >= next-1
			})

			c := audit(t, st, device, boots)
			checkTally(t, device, c)
			// A crash skips at most one lease of seqs (and what was being
			// numbered at the kill).
			seqs, _ := streamSeqs(t, st, device)
			for i := 1; i < len(boots); i++ {
				var hi uint64
				for _, s := range seqs {
					if s < boots[i].first {
						hi = max(hi, s)
					}
				}
				if skip := boots[i].first - hi - 1; skip > agent.DefaultLeaseSize+10 {
					t.Errorf("boot %s starts at %d, %d seqs after the last stored before it", boots[i].id, boots[i].first, skip)
				}
			}
			// Every boot is recorded, also one that ran with Redis down
			// the whole time: the next boot announces it.
			rec := recordedBoots(t, st, device, boots)
			for i := range boots {
				if !rec[i] {
					t.Errorf("boot %s (first seq %d) is not in the device's boots stream", boots[i].id, boots[i].first)
				}
			}
		})
	}
}

// A spool over its byte limit (--spool-max-size 64KiB) while Redis is
// down: the agent samples until the spool has dropped hundreds of readings
// and is stopped (SIGTERM) with Redis still down; a new run with the same
// spool (and room to spare) drains it once Redis is back. The drops are
// counted exactly (stored + dropped == produced), and what the spool kept
// is what its policy says:
//
//   - oldest: the spool drops the oldest readings to make room, so it keeps
//     the newest run of readings that fits: a contiguous run ending at the
//     last reading produced, such that the reading before it would not
//     have fitted;
//   - newest: the spool drops each pushed reading that does not fit, so it
//     keeps every reading up to the first drop, and after it only readings
//     small enough for the room left (less than one record): at every
//     drop the room was less than the largest record.
//
// Nothing is in flight during the fill (with Redis down the agent cannot
// even record its boot, so it never peeks a batch), so no reading is
// spared as in flight. The records' sizes are computed from the spool's
// documented on-disk format and checked against its
// tributary_edge_spool_bytes.
func TestFaultSpoolFull(t *testing.T) {
	t.Parallel()
	const maxBytes = 64 << 10
	for _, policy := range []string{"oldest", "newest"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			rd := redistest.New(t, durable) // down
			st := storeOf(t, rd)
			device := "full-" + policy
			state := t.TempDir()
			args := []string{"--redis", rd.URL(), "--interval", fastSampling, "--spool-sync", "interval",
				"--state-dir", state, "--spool-full", policy}

			a := startEdgeProc(t, device, append(args, "--spool-max-size", "64KiB")...)
			eventually(t, "500 readings dropped by the full spool", time.Minute, func() bool {
				return a.scrape(t).sum(`tributary_edge_spool_dropped_total{reason="full"}`) >= 500
			})
			// Stop it with Redis still down. It stops sampling at once and
			// tries to flush for 5 s, serving /metrics until it exits: the
			// counters of that window are final.
			if err := a.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			var m metricSet
			prev, same := -1.0, 0
			eventually(t, "sampling stopped (the same count in 4 scrapes in a row)", 4*time.Second, func() bool {
				m = a.scrape(t)
				n := m.sum("tributary_edge_readings_total")
				if n == prev {
					same++
				} else {
					prev, same = n, 0
				}
				return same == 3
			})
			next := a.stopped(t)
			produced := int(next - a.first)
			queued := atoi(t, a.Await(t, `msg="agent stopped with readings not sent" .* queued=(\d+)`, time.Second))
			full := int(m[`tributary_edge_spool_dropped_total{reason="full"}`])
			spoolDrops := int(m.sum("tributary_edge_spool_dropped_total"))
			agentDrops := int(m.agentDrops())
			t.Logf("first run (Redis down): produced %d (seqs %d..%d), dropped %d (full %d, other spool reasons %d, agent %d), %d left in the spool (%v bytes of %d)",
				produced, a.first, next-1, spoolDrops+agentDrops, full, spoolDrops-full, agentDrops, queued, m.sum("tributary_edge_spool_bytes"), maxBytes)
			switch {
			case int(m.sum("tributary_edge_readings_total")) != produced:
				t.Fatalf("readings_total %v in the last scrape, but the agent numbered %d readings: the scrape was not final", m.sum("tributary_edge_readings_total"), produced)
			case int(m.sum("tributary_edge_spool_readings")) != queued:
				t.Fatalf("spool_readings %v, but the agent stopped with %d queued", m.sum("tributary_edge_spool_readings"), queued)
			case spoolDrops+agentDrops+queued != produced:
				t.Fatalf("the spool holds %d and dropped %d, the agent dropped %d: %d readings unaccounted for of %d produced",
					queued, spoolDrops, agentDrops, produced-queued-spoolDrops-agentDrops, produced)
			case spoolDrops != full || agentDrops != 0:
				t.Fatalf("drops for other reasons than full: spool %d of %d, agent %d", spoolDrops-full, spoolDrops, agentDrops)
			case int(m[`tributary_edge_dropped_readings_total{reason="queue_full"}`]) != spoolDrops:
				t.Errorf("the agent counted %v queue_full drops, the spool %d", m[`tributary_edge_dropped_readings_total{reason="queue_full"}`], spoolDrops)
			}

			// Redis comes back; a new run drains the spool with room to
			// spare, so that it drops nothing more.
			rd.Restart(t)
			b := startEdgeProc(t, device, append(args, "--spool-max-size", "1MiB", "--drain-rate", "-1")...)
			if b.spooled != queued {
				t.Fatalf("the spool opened with %d readings; %d were left in it", b.spooled, queued)
			}
			b.awaitDrained(t, "the backlog drained", time.Minute)
			// The counts carry over from the first run (they are kept in
			// the state dir): they must not have moved.
			mb := b.scrape(t)
			if d := mb.agentDrops() + mb.sum("tributary_edge_spool_dropped_total") - float64(spoolDrops+agentDrops); d != 0 {
				t.Errorf("second run: %v readings dropped (counts %v, after the first run %d)", d, mb.agentDrops()+mb.sum("tributary_edge_spool_dropped_total"), spoolDrops+agentDrops)
			}
			nextB := b.terminate(t)

			seqs, by := streamSeqs(t, st, device)
			dups, disordered := 0, 0
			seen := map[uint64]bool{}
			for i, s := range seqs {
				if seen[s] {
					dups++
				}
				seen[s] = true
				if i > 0 && s <= seqs[i-1] {
					disordered++
				}
			}
			// The second run's readings: all of them, once.
			missingB := 0
			for s := b.first; s < nextB; s++ {
				if !seen[s] {
					missingB++
				}
			}
			// The first run's: what the spool kept.
			var kept []uint64
			bytes, largest := 0, 0
			for s := a.first; s < next; s++ {
				if seen[s] {
					kept = append(kept, s)
					bytes += spoolRecordSize(by[s])
				}
			}
			for _, r := range by {
				largest = max(largest, spoolRecordSize(r))
			}
			stored := len(seqs)
			producedAll := produced + int(nextB-b.first)
			t.Logf("%s: produced %d, stored %d, dropped %d (counted), duplicated %d, out of order %d, missing of the second run %d; first run kept %d readings, %d bytes (largest record %d)",
				device, producedAll, stored, spoolDrops+agentDrops, dups, disordered, missingB, len(kept), bytes, largest)
			if dups != 0 || disordered != 0 || missingB != 0 {
				t.Errorf("duplicated %d, out of order %d, missing %d of the second run", dups, disordered, missingB)
			}
			if stored+spoolDrops+agentDrops != producedAll {
				t.Errorf("stored %d + dropped %d != produced %d", stored, spoolDrops+agentDrops, producedAll)
			}
			if len(kept) != queued {
				t.Errorf("the first run left %d readings in the spool; %d of them are stored", queued, len(kept))
			}
			if float64(bytes) != m.sum("tributary_edge_spool_bytes") {
				t.Errorf("the kept readings take %d bytes by the spool's format; the spool said %v", bytes, m.sum("tributary_edge_spool_bytes"))
			}
			if bytes > maxBytes || maxBytes-bytes >= largest {
				t.Errorf("the spool kept %d bytes: want at most %d and less than a record (%d) short of it", bytes, maxBytes, largest)
			}
			switch policy {
			case "oldest":
				// The batch the sender had in flight when Redis went away
				// (the oldest readings, which drop-oldest never drops: it is
				// being sent), then the newest readings, contiguous up to
				// the last produced.
				inflight := 0
				for inflight < len(kept) && kept[inflight] == a.first+uint64(inflight) {
					inflight++
				}
				if inflight == len(kept) || inflight > agent.DefaultBatchSize {
					inflight = 0 // no separate head: all of it must be the newest run
				}
				from := uint64(next) - uint64(len(kept)-inflight)
				for i, s := range kept[inflight:] {
					if s != from+uint64(i) {
						t.Fatalf("oldest: after %d readings in flight, kept seqs are not the newest run %d..%d: seq %d at %d", inflight, from, next-1, s, inflight+i)
					}
				}
				t.Logf("oldest: kept the %d readings in flight and the newest run %d..%d", inflight, from, next-1)
			case "newest":
				// Every reading up to the first drop, then only what fit in
				// the room left: at every dropped seq the room was less than
				// a record.
				prefix := 0
				for prefix < len(kept) && kept[prefix] == a.first+uint64(prefix) {
					prefix++
				}
				room := maxBytes
				late := 0
				for s := a.first; s < next; s++ {
					if seen[s] {
						room -= spoolRecordSize(by[s])
						if s >= a.first+uint64(prefix) {
							late++
						}
						continue
					}
					if room >= largest {
						t.Fatalf("newest: seq %d dropped with %d bytes of room, more than any record takes (%d)", s, room, largest)
					}
				}
				t.Logf("newest: kept seqs %d..%d and %d later readings that fit in the room left", a.first, a.first+uint64(prefix)-1, late)
				if prefix == 0 {
					t.Fatalf("newest: the first reading was dropped")
				}
			}
		})
	}
}

// A full spool that drains while the agent samples on: Redis is down until
// the 64 KiB spool has dropped hundreds of readings, then comes back, and
// the same run drains the backlog (at the default drain rate) while its
// live readings still push against the limit; the batch in flight is never
// dropped. The exact count holds throughout: stored + dropped == produced,
// with nothing stored twice or out of order.
func TestFaultSpoolFullDraining(t *testing.T) {
	t.Parallel()
	for _, policy := range []string{"oldest", "newest"} {
		t.Run(policy, func(t *testing.T) {
			t.Parallel()
			rd := redistest.New(t, durable) // down
			st := storeOf(t, rd)
			device := "draining-" + policy
			a := startEdgeProc(t, device, "--redis", rd.URL(), "--interval", fastSampling, "--spool-sync", "interval",
				"--state-dir", t.TempDir(), "--spool-full", policy, "--spool-max-size", "64KiB")
			eventually(t, "300 readings dropped by the full spool", time.Minute, func() bool {
				return a.scrape(t).sum(`tributary_edge_spool_dropped_total{reason="full"}`) >= 300
			})
			rd.Restart(t)
			a.awaitDrained(t, "the backlog drained", 2*time.Minute)
			// Redis is up and the spool nearly empty: no more drops.
			m := a.scrape(t)
			next := a.terminate(t)
			produced := int(next - a.first)
			dropped := int(m.sum("tributary_edge_spool_dropped_total") + m.agentDrops())
			seqs, _ := streamSeqs(t, st, device)
			seen := map[uint64]bool{}
			dups, disordered, stray := 0, 0, 0
			for i, s := range seqs {
				if seen[s] {
					dups++
				}
				seen[s] = true
				if i > 0 && s <= seqs[i-1] {
					disordered++
				}
				if s < a.first || s >= next {
					stray++
				}
			}
			t.Logf("%s: produced %d, stored %d, dropped %d (full %v), duplicated %d, out of order %d, stray %d",
				device, produced, len(seqs), dropped, m[`tributary_edge_spool_dropped_total{reason="full"}`], dups, disordered, stray)
			if dups != 0 || disordered != 0 || stray != 0 || len(seqs)+dropped != produced {
				t.Errorf("want stored + dropped == produced, nothing twice or out of order")
			}
		})
	}
}
