package web

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/fanout/fanouttest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// memStore is a Store over fixed readings, as the edge's would be.
type memStore struct {
	devices []store.Device
	history map[string][]reading.Reading
}

func (m memStore) DevicesPage(_ context.Context, after string, limit int) (store.DevicePage, error) {
	var p store.DevicePage
	for _, d := range m.devices {
		if d.ID > after {
			p.Devices = append(p.Devices, d)
		}
	}
	if limit <= 0 {
		limit = store.DefaultDevicePage
	}
	if len(p.Devices) > limit {
		p.Devices = p.Devices[:limit]
		p.Next = p.Devices[limit-1].ID
	}
	return p, nil
}

func (m memStore) HistoryPages(_ context.Context, device string, _ store.Query, fn func([][]byte) error) error {
	var page [][]byte
	for _, r := range m.history[device] {
		page = append(page, r.AppendJSON(nil))
	}
	if len(page) == 0 {
		return nil
	}
	return fn(page)
}

func (m memStore) BootList(context.Context, string) (store.BootList, error) {
	return store.BootList{Boots: []store.Boot{}}, nil
}

// TestWithoutRedis: the API, the stream and readiness served from another
// store and a hub fed in process, as the edge would serve its own readings.
func TestWithoutRedis(t *testing.T) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	r1, r2 := temp("pi-1", 1, 20.5), temp("pi-1", 2, 20.75)
	st := memStore{
		devices: []store.Device{{ID: "pi-1", LastSeen: now, LastSeq: 1, Latest: []reading.Reading{r1}}},
		history: map[string][]reading.Reading{"pi-1": {r1}},
	}
	hub := fanout.NewHub(fanout.Options{})
	var src fanout.MemorySource
	h, err := New(Options{Store: st, Hub: hub, Ready: src.Ready})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	f := &fixture{srv: srv}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- hub.Run(ctx, &src) }()
	t.Cleanup(func() {
		srv.Close()
		sctx, scancel := context.WithTimeout(context.Background(), fanouttest.Timeout)
		defer scancel()
		if err := hub.Shutdown(sctx); err != nil {
			t.Errorf("hub shutdown: %v", err)
		}
		cancel()
		if err := <-done; err != nil {
			t.Errorf("hub's source: %v", err)
		}
	})

	if code, body := f.get(t, "/readyz"); code != 503 || body != "not ready: waiting for the live feed\n" {
		t.Errorf("readyz before the feed: %d %q", code, body)
	}
	c := f.dial(t, "?device=pi-1")
	c.Status(t, false)
	src.SetStatus(true, "")
	c.Status(t, true)
	if code, body := f.get(t, "/readyz"); code != 200 {
		t.Errorf("readyz once live: %d %q", code, body)
	}
	src.Publish("pi-1", time.Time{}, r2.AppendJSON(nil))
	if got := c.Readings(t, 1); got[0] != r2 {
		t.Errorf("streamed %+v, want %+v", got[0], r2)
	}

	var devs []device
	f.getJSON(t, "/api/devices", 200, &devs)
	if len(devs) != 1 || devs[0].ID != "pi-1" || !devs[0].Online || len(devs[0].Latest) != 1 || devs[0].Latest[0] != r1 {
		t.Errorf("devices %+v", devs)
	}
	var hist struct {
		Device   string            `json:"device"`
		Readings []reading.Reading `json:"readings"`
	}
	f.getJSON(t, "/api/devices/pi-1/readings", 200, &hist)
	if hist.Device != "pi-1" || len(hist.Readings) != 1 || hist.Readings[0] != r1 {
		t.Errorf("history %+v", hist)
	}
	code, body := f.get(t, "/api/devices/other/readings")
	if code != 200 || strings.TrimSpace(body) != `{"device":"other","readings":[]}` {
		t.Errorf("empty history: %d %s", code, body)
	}
	var boots json.RawMessage
	f.getJSON(t, "/api/devices/pi-1/boots", 200, &boots)
	if string(boots) != `{"device":"pi-1","boots":[]}` {
		t.Errorf("boots %s", boots)
	}
}
