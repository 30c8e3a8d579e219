package history_test

import (
	"context"
	"encoding/json"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/agent/history"
	"github.com/tributary-iot/tributary/fanout"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
	"github.com/tributary-iot/tributary/web"
)

// TestSameAnswersAsTheCloud serves the same readings through the web
// handler from a real Redis (the cloud) and from a History (the edge), and
// compares the answers byte for byte: history pages and the devices'
// newest readings.
func TestSameAnswersAsTheCloud(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	cloudStore := store.New(srv.Client(t), store.Options{})
	const dev = "edge-1"
	h, err := history.New(history.Options{Device: dev, Boot: "boot-1"})
	if err != nil {
		t.Fatal(err)
	}
	rnd := rand.New(rand.NewPCG(3, 4))
	now := time.Now().UTC().Add(-time.Minute).Truncate(time.Millisecond)
	var rs []reading.Reading
	for i := range 2500 {
		s := i % 5
		v := math.Round(rnd.NormFloat64()*1000) / 100
		if s == 4 {
			v = rnd.Float64() // not a short decimal
		}
		rs = append(rs, reading.Reading{Device: dev, Sensor: []string{"bme", "bme", "bme", "door", "adc"}[s],
			Metric: []string{"temperature", "humidity", "pressure", "door", "voltage"}[s], Value: v,
			Unit: []string{"Cel", "%", "hPa", "1", "V"}[s], Time: now.Add(time.Duration(i) * 10 * time.Millisecond), Seq: uint64(100 + i)})
	}
	for i := 0; i < len(rs); i += 500 {
		if _, err := cloudStore.Ingest(context.Background(), rs[i:i+500]); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range rs {
		h.Add(r)
	}
	serve := func(st web.Store) string {
		handler, err := web.New(web.Options{Store: st, Hub: fanout.NewHub(fanout.Options{})})
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(handler)
		t.Cleanup(srv.Close)
		return srv.URL
	}
	cloud, edge := serve(cloudStore), serve(h)
	get := func(url string) string {
		t.Helper()
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: %s %s", url, resp.Status, b)
		}
		return string(b)
	}
	for _, path := range []string{"/api/devices/" + dev + "/readings", "/api/devices/" + dev + "/readings?limit=1",
		"/api/devices/" + dev + "/readings?limit=1234", "/api/devices/" + dev + "/readings?limit=3000",
		"/api/devices/nobody/readings"} {
		if c, e := get(cloud+path), get(edge+path); c != e {
			t.Errorf("GET %s differs:\ncloud %.300s\n edge %.300s", path, c, e)
		}
	}
	// The devices: the same newest readings (last_seen is each one's clock).
	type dev0 struct {
		ID      string            `json:"id"`
		LastSeq uint64            `json:"last_seq"`
		Latest  []json.RawMessage `json:"latest"`
		Online  bool              `json:"online"`
	}
	var c, e []dev0
	json.Unmarshal([]byte(get(cloud+"/api/devices")), &c)
	json.Unmarshal([]byte(get(edge+"/api/devices")), &e)
	cj, _ := json.Marshal(c)
	ej, _ := json.Marshal(e)
	if string(cj) != string(ej) || len(c) != 1 || len(c[0].Latest) != 5 {
		t.Errorf("devices differ:\ncloud %s\n edge %s", cj, ej)
	}
	var boots struct {
		Boots []struct {
			ID       string `json:"boot"`
			FirstSeq uint64 `json:"first_seq"`
		} `json:"boots"`
	}
	json.Unmarshal([]byte(get(edge+"/api/devices/"+dev+"/boots")), &boots)
	if len(boots.Boots) != 1 || boots.Boots[0].ID != "boot-1" || boots.Boots[0].FirstSeq != 100 {
		t.Errorf("boots %+v", boots)
	}
}
