package fleet_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sim/fleet"
	"github.com/tributary-iot/tributary/store"
)

func TestFleetRuns(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	st := store.New(srv.Client(t), store.Options{})
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	opt := fleet.Options{Redis: store.ClientOptions{URL: srv.URL()}, Devices: 3, Interval: 5 * time.Millisecond, Seed: 1, StateDir: dir, Registerer: reg}
	go func() { done <- fleet.Run(ctx, opt) }()
	ids := fleet.DeviceIDs(opt)
	if fmt.Sprint(ids) != "[sim-1 sim-2 sim-3]" {
		t.Fatalf("device ids %v", ids)
	}
	deadline := time.Now().Add(20 * time.Second)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		ready := 0
		for _, id := range ids {
			if n, _ := st.Client().XLen(ctx, st.StreamKey(id)).Result(); n >= 10 {
				ready++
			}
		}
		if ready == len(ids) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("timed out waiting for every device's readings")
		}
		<-tick.C
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("fleet did not stop")
	}

	devs, err := st.Devices(context.Background())
	if err != nil || len(devs) != 3 {
		t.Fatalf("registered devices %v, %v", devs, err)
	}
	layouts := map[string]bool{}
	temps := map[float64]bool{}
	for _, d := range devs {
		var series []string
		for _, r := range d.Latest {
			series = append(series, r.Sensor+"/"+r.Metric)
			if r.Metric == "temperature" {
				temps[r.Value] = true
			}
			if err := r.Validate(); err != nil {
				t.Errorf("%s: %v", d.ID, err)
			}
		}
		layouts[strings.Join(series, ",")] = true
		if _, err := os.Stat(filepath.Join(dir, d.ID+".seq")); err != nil {
			t.Errorf("no seq lease for %s: %v", d.ID, err)
		}
	}
	if len(layouts) != 3 {
		t.Errorf("the 3 devices share sensor layouts: %v", layouts)
	}
	if len(temps) < 2 {
		t.Errorf("the devices report the same temperatures: %v", temps)
	}
	// Metrics carry a device label, one series per device.
	if n, err := testutil.GatherAndCount(reg, "tributary_edge_uplink_up"); err != nil || n != 3 {
		t.Fatalf("uplink_up series: %d, %v; want 3", n, err)
	}
	raw, _ := st.History(context.Background(), "sim-2", store.Query{})
	for i, b := range raw {
		r, err := reading.Decode(b)
		if err != nil || r.Seq != uint64(i+1) {
			t.Fatalf("sim-2 reading %d: seq %d, %v", i, r.Seq, err)
		}
	}
}

func TestFleetOptions(t *testing.T) {
	if got := fleet.DeviceIDs(fleet.Options{Devices: 12, Prefix: "lab-"}); got[0] != "lab-01" || got[11] != "lab-12" {
		t.Fatalf("DeviceIDs = %v", got)
	}
	if got := fleet.DeviceIDs(fleet.Options{}); len(got) != 5 || got[0] != "sim-1" {
		t.Fatalf("default DeviceIDs = %v", got)
	}
	ctx := context.Background()
	for _, tc := range []struct {
		opt  fleet.Options
		want string
	}{
		{fleet.Options{}, "no Redis URL"},
		{fleet.Options{Redis: store.ClientOptions{URL: "redis://127.0.0.1:1"}, Prefix: "bad prefix "}, "not valid"},
		{fleet.Options{Redis: store.ClientOptions{URL: "redis://127.0.0.1:1"}, Devices: -1}, "-1 devices"},
		{fleet.Options{Redis: store.ClientOptions{URL: "http://x"}}, "redis URL"},
	} {
		if err := fleet.Run(ctx, tc.opt); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tc.opt, err, tc.want)
		}
	}
}
