//go:build armsmoke

package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// TestARMCommandPath runs the edge agent built for each Raspberry Pi
// target (as TestARMSmoke does, under Debian's qemu-user, armv6 as an
// ARM1176) with --sim and its simulated actuators, over a real
// redis-server on loopback, and sends it one command the way the cloud
// does (store.SendCommand: XADD to tributary:commands:{D}): switch the
// heater on. The edge reads it, its controller applies it (the GPIO of the
// emulated relay), and it reports accepted then applied upstream; the
// heater's state reading at 1 reaches Redis.
//
// Like TestARMSmoke it is `make test-arm`'s (go test -tags armsmoke): a
// missing qemu-user is a failure, not a skip.
func TestARMCommandPath(t *testing.T) {
	proctest.SkipShort(t, "qemu-user")
	srv := redistest.Start(t, redistest.Options{})
	for _, tc := range armTargets {
		t.Run(tc.name, func(t *testing.T) {
			cmdline := armEdge(t, tc)
			dev := "arm-cmd-" + tc.name
			args := append(cmdline[1:len(cmdline):len(cmdline)], "--sim", "--device", dev, "--redis", srv.URL(),
				"--interval", "500ms", "--state-dir", t.TempDir(), "--metrics-listen", "")
			began := time.Now()
			p := proctest.Start(t, "edge-"+tc.name, cmdline[0], args...)
			st := store.New(srv.Client(t), store.Options{})
			ctx := context.Background()
			eventually(t, "the edge's actuators announced in Redis", 2*time.Minute, func() bool {
				acts, err := st.Actuators(ctx, dev)
				return err == nil && len(acts) == 2 && acts[0].Name == "heater"
			})
			awaitHeaterMayStart(t, p)

			now := time.Now().UTC().Truncate(time.Millisecond)
			c := command.Command{ID: "arm-" + tc.name, Device: dev, Actuator: "heater", Value: 1,
				Deadline: now.Add(2 * time.Minute), By: "e2e", At: now}
			if err := st.SendCommand(ctx, c); err != nil {
				t.Fatal(err)
			}
			var rec command.Record
			eventually(t, "the command's final status in Redis", 2*time.Minute, func() bool {
				log, err := st.CommandLog(ctx, dev, 10)
				if err != nil || len(log) != 1 {
					return false
				}
				rec = log[0]
				return rec.State().Final()
			})
			if rec.Command.ID != c.ID || rec.Local || len(rec.Statuses) != 2 || rec.Statuses[0].State != command.Accepted ||
				rec.Statuses[1].State != command.Applied || rec.Statuses[1].Value != 1 {
				t.Fatalf("under %s, the command's record %+v, want accepted then applied at 1", strings.Join(tc.qemu, " "), rec)
			}
			eventually(t, "the heater's state reading at 1 in Redis", 2*time.Minute, func() bool {
				return armHeaterOn(t, st, dev)
			})
			t.Logf("%s: applied and its state reading in Redis %v after start", tc.name, time.Since(began).Round(10*time.Millisecond))
			p.Stop()
		})
	}
}

// armHeaterOn reports whether dev's readings in Redis hold the heater's
// state reading at 1.
func armHeaterOn(t *testing.T, st *store.Store, dev string) bool {
	t.Helper()
	raw, err := st.History(context.Background(), dev, store.Query{})
	if err != nil {
		return false
	}
	for _, b := range raw {
		r, err := reading.Decode(b)
		if err != nil {
			t.Fatal(fmt.Errorf("a reading of %s in Redis: %w", dev, err))
		}
		if r.Sensor == "heater" && r.Metric == command.MetricOn && r.Value == 1 {
			return true
		}
	}
	return false
}
