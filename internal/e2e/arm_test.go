//go:build armsmoke

package e2e

import (
	"context"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// TestARMSmoke cross-builds the edge agent for the three Raspberry Pi
// targets of `make cross` and runs each under Debian's qemu-user in --sim
// mode, with one sensor of every driver (cmd/edge/testdata/sim-all.yaml:
// the real drivers over emulated chips), publishing to a real redis-server
// on a free port, until a reading of every series has arrived. The armv6
// binary runs on an emulated ARM1176 (Pi Zero and 1), so a build for a
// newer core fails there with an illegal instruction.
//
// It is `make test-arm`'s (go test -tags armsmoke), not part of go test
// ./...: a missing qemu-user is a failure, not a skip.
func TestARMSmoke(t *testing.T) {
	cfg, err := filepath.Abs("../../cmd/edge/testdata/sim-all.yaml")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"air/humidity", "air/pressure", "air/temperature", "baro/pressure", "baro/temperature",
		"battery/voltage", "canopy/humidity", "canopy/temperature", "door/door", "hall/motion", "leaf/humidity", "leaf/temperature", "light/illuminance",
		"rain/count", "rain/rate", "soil-temp/temperature", "soil/moisture"}
	srv := redistest.Start(t, redistest.Options{})
	for _, tc := range armTargets {
		t.Run(tc.name, func(t *testing.T) {
			cmdline := armEdge(t, tc)
			dev := "arm-smoke-" + tc.name
			args := append(cmdline[1:len(cmdline):len(cmdline)], "--sim", "--config", cfg, "--device", dev, "--redis", srv.URL(),
				"--state-dir", t.TempDir(), "--metrics-listen", "")
			began := time.Now()
			p := proctest.Start(t, "edge-"+tc.name, cmdline[0], args...)
			st := store.New(srv.Client(t), store.Options{})
			// A series is there, or its sensor's driver ran and reported a
			// physical limit: the emulated light meter saturates in full
			// sun (over 54612 lx at the BH1750's default MTreg), which
			// depends on the time of day the test runs at.
			missing := func() []string {
				seen := map[string]bool{}
				for _, s := range series(t, st, dev) {
					seen[s] = true
				}
				var out []string
				for _, w := range want {
					sensor, _, _ := strings.Cut(w, "/")
					if !seen[w] && p.Log.Last(`msg="sensor read failed" sensor=`+regexp.QuoteMeta(sensor)+` kind=out_of_range`) == "" {
						out = append(out, w)
					}
				}
				return out
			}
			deadline := time.Now().Add(60 * time.Second)
			for m := missing(); len(m) > 0; m = missing() {
				if time.Now().After(deadline) {
					p.Stop()
					t.Fatalf("after 60 s under %s, no readings of %v (nor a read out of range)", strings.Join(tc.qemu, " "), m)
				}
				time.Sleep(100 * time.Millisecond) // polling Redis, which has no way to notify
			}
			p.Stop()
			if extra := series(t, st, dev); len(extra) > len(want) {
				t.Fatalf("series %v, want at most %v", extra, want)
			}
			t.Logf("%s: every series in Redis (or out of range) %v after start", tc.name, time.Since(began).Round(10*time.Millisecond))
		})
	}
}

// series lists the sensor/metric pairs of dev's readings in Redis.
func series(t *testing.T, st *store.Store, dev string) []string {
	t.Helper()
	raw, err := st.History(context.Background(), dev, store.Query{})
	if err != nil {
		return nil
	}
	set := map[string]bool{}
	for _, b := range raw {
		r, err := reading.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		set[r.Sensor+"/"+r.Metric] = true
	}
	var out []string
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
