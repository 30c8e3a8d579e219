package e2e

// What the fault tests share: a redis-server that keeps its data across a
// crash, edge processes that can be killed and report their boot and
// /metrics, and the audit of a device's stream against what its agent
// produced.

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// faultOutageEnv names the environment variable that sets how long the
// fault tests keep Redis or the broker down (a Go duration, e.g. "5s" for a
// quick local run). The default is the 30 s.
const faultOutageEnv = "TRIBUTARY_FAULT_OUTAGE"

// faultOutage is how long an outage lasts in the fault tests.
func faultOutage(t *testing.T) time.Duration {
	t.Helper()
	v := os.Getenv(faultOutageEnv)
	if v == "" {
		return 30 * time.Second
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("$%s=%q: want a positive Go duration such as 30s", faultOutageEnv, v)
	}
	return d
}

// durable makes the fault tests' redis-server keep its data across a
// crash. internal/redistest's default restarts empty, which would turn a
// Redis outage into a data loss of Redis's own making and hide what the
// edge does.
var durable = redistest.Options{Durable: true}

// storeOf returns a Store on a new client of rd, closed when the test ends.
func storeOf(t *testing.T, rd *redistest.Server) *store.Store {
	return store.New(rd.Client(t), store.Options{})
}

// edgeProc is an edge agent process and what its log said at start.
type edgeProc struct {
	*proctest.Proc
	device  string
	boot    string // this run's boot id
	first   uint64 // seq of this boot's first reading
	spooled int    // readings the spool held when it opened
	metrics string // URL of its /metrics
}

// startEdgeProc runs an edge agent with simulated sensors, /metrics on a
// free port, and args, and waits until it has started.
func startEdgeProc(t *testing.T, device string, args ...string) *edgeProc {
	t.Helper()
	p := proctest.Start(t, "edge "+device, binPath(t, "edge"), append([]string{"--device", device, "--sim", "--metrics-listen", "127.0.0.1:0"}, args...)...)
	e := &edgeProc{Proc: p, device: device}
	e.metrics = p.Await(t, `msg="edge starting" .* metrics=(http://127\.0\.0\.1:\d+/metrics)`, 30*time.Second)
	e.spooled = atoi(t, p.Await(t, `msg="edge starting" .* spooled=(\d+)`, time.Second))
	e.boot = p.Await(t, `msg="agent started" .* boot=(\S+)`, 30*time.Second)
	e.first = uint64(atoi(t, p.Await(t, `msg="agent started" .* next_seq=(\d+)`, time.Second)))
	return e
}

// terminate stops the agent with SIGTERM, as systemd would, and returns
// the seq after its last reading, from its "agent stopped" line. It fails
// the test unless the agent exits cleanly within 30 s.
func (e *edgeProc) terminate(t *testing.T) (next uint64) {
	t.Helper()
	if err := e.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM %s: %v", e.Name, err)
	}
	return e.stopped(t)
}

// stopped waits for the agent, already sent SIGTERM, to exit cleanly (a
// second signal would kill it) and returns the seq after its last reading.
func (e *edgeProc) stopped(t *testing.T) (next uint64) {
	t.Helper()
	select {
	case <-e.Done:
	case <-time.After(30 * time.Second):
		t.Fatalf("%s did not exit within 30s of SIGTERM", e.Name)
	}
	if !e.Cmd.ProcessState.Success() {
		t.Fatalf("%s exited with %v", e.Name, e.Cmd.ProcessState)
	}
	return uint64(atoi(t, e.Await(t, `msg="agent stopped" device=\S+ next_seq=(\d+)`, time.Second)))
}

// awaitDrained waits until e's uplink is up and its spool holds less than
// 50 readings: the backlog drained.
func (e *edgeProc) awaitDrained(t *testing.T, what string, timeout time.Duration) {
	t.Helper()
	eventually(t, what, timeout, func() bool {
		m := e.scrape(t)
		return m.sum("tributary_edge_uplink_up") == 1 && m.sum("tributary_edge_spool_readings") < 50
	})
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	n, err := strconv.Atoi(s)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// metricSet is one scrape of /metrics: values by series ("name" or
// `name{label="value"}`, as the text format writes them).
type metricSet map[string]float64

// scrape fetches e's /metrics.
func (e *edgeProc) scrape(t *testing.T) metricSet {
	t.Helper()
	return scrapeURL(t, e.metrics)
}

func scrapeURL(t *testing.T, url string) metricSet {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape %s: %s %v", url, resp.Status, err)
	}
	m := metricSet{}
	for _, l := range strings.Split(string(body), "\n") {
		i := strings.LastIndexByte(l, ' ')
		if l == "" || l[0] == '#' || i < 0 {
			continue
		}
		v, err := strconv.ParseFloat(l[i+1:], 64)
		if err != nil {
			t.Fatalf("scrape %s: line %q: %v", url, l, err)
		}
		m[l[:i]] = v
	}
	return m
}

// sum adds up every series of the metric name.
func (m metricSet) sum(name string) float64 {
	s := 0.0
	for k, v := range m {
		if k == name || strings.HasPrefix(k, name+"{") {
			s += v
		}
	}
	return s
}

// drops are the readings the edge dropped, in its spool or before it.
func (m metricSet) drops() float64 {
	return m.sum("tributary_edge_spool_dropped_total") + m.sum("tributary_edge_dropped_readings_total")
}

// agentDrops are the readings the agent dropped before its queue, by the
// reasons that are not the spool's own (queue_full repeats the spool's
// drops, which tributary_edge_spool_dropped_total counts by reason).
func (m metricSet) agentDrops() float64 {
	return m.sum("tributary_edge_dropped_readings_total") - m[`tributary_edge_dropped_readings_total{reason="queue_full"}`]
}

// eventually polls cond every 50 ms until it holds, failing the test after
// timeout.
func eventually(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// awaitStored waits until each device's stream holds n readings, before a
// fault.
func awaitStored(t *testing.T, st *store.Store, devices []string, n int64) {
	t.Helper()
	for _, d := range devices {
		eventually(t, fmt.Sprintf("%s: %d readings stored before the fault", d, n), 30*time.Second, func() bool { return streamLen(st, d) >= n })
	}
}

// streamLen is how many readings device's stream holds (0 while Redis is
// unreachable).
func streamLen(st *store.Store, device string) int64 {
	n, _ := st.Client().XLen(context.Background(), st.StreamKey(device)).Result()
	return n
}

// streamSeqs returns the seqs of device's stream, in stream order, and the
// readings by seq (the first of any repeat).
func streamSeqs(t *testing.T, st *store.Store, device string) ([]uint64, map[uint64]reading.Reading) {
	t.Helper()
	var seqs []uint64
	by := map[uint64]reading.Reading{}
	err := st.HistoryPages(context.Background(), device, store.Query{}, func(page [][]byte) error {
		for _, raw := range page {
			r, err := reading.Decode(raw)
			if err != nil {
				return fmt.Errorf("stream entry %s: %w", raw, err)
			}
			if r.Device != device {
				return fmt.Errorf("reading of %q in the stream of %q", r.Device, device)
			}
			seqs = append(seqs, r.Seq)
			if _, ok := by[r.Seq]; !ok {
				by[r.Seq] = r
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs, by
}

// bootRun is one run of an agent as the test saw it.
type bootRun struct {
	id    string
	first uint64 // seq of its first reading ("agent started ... next_seq")
	// next is one past its last reading ("agent stopped ... next_seq"); 0
	// when it was killed and the test cannot know.
	next uint64
	// acked is how many of its readings (from first on) the spool had
	// acknowledged, at least, before it was killed: the agent counts a
	// reading in tributary_edge_readings_total only after Push returned,
	// and pushes in seq order.
	acked uint64
}

// tally counts a device's readings.
type tally struct {
	produced   int // by the boots, where known; for a killed boot, up to its highest stored or acknowledged seq
	stored     int // stream entries
	duplicated int // stream entries whose seq an earlier entry had
	missing    int // produced (acknowledged, for a killed boot) and not stored
	disordered int // stream entries whose seq is not above the one before
	stray      int // stored seqs that no boot produced
}

func (c tally) String() string {
	return fmt.Sprintf("produced %d, stored %d, duplicated %d, missing %d, out of order %d, stray %d",
		c.produced, c.stored, c.duplicated, c.missing, c.disordered, c.stray)
}

// audit compares device's stream with its boots (in the order they ran):
// every seq a boot produced must be stored once, in order. A boot that
// ran to a clean stop produced [first, next); a killed one at least
// [first, first+acked) and everything up to its highest stored seq (what it
// spooled before that is older, and the spool is a FIFO). The seqs a crash
// skips between two boots (the lease) are no one's. It logs the per-boot
// detail and returns the counts.
func audit(t *testing.T, st *store.Store, device string, boots []bootRun) tally {
	t.Helper()
	seqs, _ := streamSeqs(t, st, device)
	var c tally
	c.stored = len(seqs)
	seen := map[uint64]int{}
	for i, s := range seqs {
		seen[s]++
		if seen[s] > 1 {
			c.duplicated++
		}
		if i > 0 && s <= seqs[i-1] {
			c.disordered++
		}
	}
	// The boot each stored seq falls in: the last one that started at or
	// below it.
	owner := func(s uint64) int {
		return sort.Search(len(boots), func(i int) bool { return boots[i].first > s }) - 1
	}
	highest := make([]uint64, len(boots))
	for s := range seen {
		b := owner(s)
		if b < 0 || (boots[b].next != 0 && s >= boots[b].next) {
			c.stray++
			continue
		}
		highest[b] = max(highest[b], s)
	}
	var detail []string
	for i, b := range boots {
		if i > 0 && b.first <= boots[i-1].first {
			t.Fatalf("%s: boot %s starts at seq %d, not after boot %s at %d", device, b.id, b.first, boots[i-1].id, boots[i-1].first)
		}
		end := b.next // one past the last seq that must be stored
		if end == 0 {
			end = max(b.first+b.acked, highest[i]+1)
		}
		missing, stored := 0, 0
		for s := b.first; s < end; s++ {
			if seen[s] == 0 {
				missing++
			} else {
				stored++
			}
		}
		c.produced += int(end - b.first)
		c.missing += missing
		how := "stopped"
		if b.next == 0 {
			how = fmt.Sprintf("killed, %d acknowledged by the spool", b.acked)
		}
		detail = append(detail, fmt.Sprintf("boot %s (%s): seqs %d..%d, %d stored, %d missing", b.id, how, b.first, end-1, stored, missing))
	}
	t.Logf("%s: %v\n\t%s", device, c, strings.Join(detail, "\n\t"))
	return c
}

// recordedBoots checks device's boots stream (store.Boots) against the
// boots the test ran: each recorded boot must be one of them, with its first
// seq, recorded once. It returns which of the test's boots are recorded.
func recordedBoots(t *testing.T, st *store.Store, device string, boots []bootRun) []bool {
	t.Helper()
	rec, err := st.Boots(context.Background(), device)
	if err != nil {
		t.Fatal(err)
	}
	got := make([]bool, len(boots))
	for _, r := range rec {
		found := false
		for i, b := range boots {
			if b.id != r.ID {
				continue
			}
			found = true
			if r.FirstSeq != b.first {
				t.Errorf("%s: boot %s recorded with first seq %d, the agent said %d", device, r.ID, r.FirstSeq, b.first)
			}
			if got[i] {
				t.Errorf("%s: boot %s recorded twice", device, r.ID)
			}
			got[i] = true
		}
		if !found {
			t.Errorf("%s: boot %s (first seq %d) recorded, but no agent ran it", device, r.ID, r.FirstSeq)
		}
	}
	return got
}

// spoolRecordSize is the bytes a reading takes in the spool (the quantity
// --spool-max-size bounds), by the on-disk format agent/spool documents
// (record.go): an 8-byte record header, then a u32 index, uvarint seq,
// varint Unix seconds, uvarint nanoseconds, the value's 8 bytes and four
// strings (device, sensor, metric, unit) each after its uvarint length.
// The tests check it against the spool's own tributary_edge_spool_bytes.
func spoolRecordSize(r reading.Reading) int {
	n := 8 + 4 + len(binary.AppendUvarint(nil, r.Seq)) + len(binary.AppendVarint(nil, r.Time.Unix())) +
		len(binary.AppendUvarint(nil, uint64(r.Time.Nanosecond()))) + 8
	for _, s := range []string{r.Device, r.Sensor, r.Metric, r.Unit} {
		n += len(binary.AppendUvarint(nil, uint64(len(s)))) + len(s)
	}
	return n
}

// writeSecret writes a password file (mode 0600) and returns its path.
func writeSecret(t *testing.T, dir, name, password string) string {
	t.Helper()
	p := dir + "/" + name
	if err := os.WriteFile(p, []byte(password+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// regexpMatch reports whether re matches somewhere in s.
func regexpMatch(re, s string) bool { return regexp.MustCompile(re).MatchString(s) }
