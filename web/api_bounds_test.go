package web

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/store"
)

// getDevicesPage fetches one page of /api/devices; next is the Link
// rel="next" target resolved against the request, "" when none.
func getDevicesPage(t *testing.T, f *fixture, path string) (ids []string, next string) {
	t.Helper()
	resp, err := http.Get(f.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d", path, resp.StatusCode)
	}
	var devs []struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&devs); err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	for _, d := range devs {
		ids = append(ids, d.ID)
	}
	link := resp.Header.Get("Link")
	if link == "" {
		return ids, ""
	}
	target, rel, ok := strings.Cut(link, ">; ")
	if !ok || rel != `rel="next"` || !strings.HasPrefix(target, "<") {
		t.Fatalf("GET %s: Link %q", path, link)
	}
	base, _ := url.Parse(path)
	ref, err := url.Parse(target[1:])
	if err != nil {
		t.Fatalf("GET %s: Link %q: %v", path, link, err)
	}
	return ids, base.ResolveReference(ref).String()
}

// TestDevicesPaginated: with 3,000 devices a request without parameters
// returns at most the default page and a link to the next; following the
// links lists every device exactly once, in order.
func TestDevicesPaginated(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	const n = 3000
	var rs []reading.Reading
	for i := range n {
		rs = append(rs, temp(fmt.Sprintf("dev-%05d", i), 1, 20))
		if len(rs) == 500 {
			f.ingest(t, rs...)
			rs = rs[:0]
		}
	}
	ids, next := getDevicesPage(t, f, "/api/devices")
	if len(ids) != store.DefaultDevicePage || next == "" {
		t.Fatalf("first page: %d devices, next %q; want %d and a next page", len(ids), next, store.DefaultDevicePage)
	}
	for _, limit := range []string{"", "?limit=7", "?limit=999999"} {
		var all []string
		path := "/api/devices" + limit
		for pages := 0; path != ""; pages++ {
			if pages > n {
				t.Fatal("the links never end")
			}
			var ids []string
			ids, path = getDevicesPage(t, f, path)
			if len(ids) > store.MaxDevicePage {
				t.Fatalf("a page of %d", len(ids))
			}
			all = append(all, ids...)
		}
		if len(all) != n {
			t.Fatalf("%q: %d devices listed, want %d", limit, len(all), n)
		}
		for i, id := range all {
			if want := fmt.Sprintf("dev-%05d", i); id != want {
				t.Fatalf("%q: device %d is %s, want %s", limit, i, id, want)
			}
		}
	}
	if code, body := f.get(t, "/api/devices/dev-00001/readings?limit=%zz"); code != 400 {
		t.Errorf("history ?limit=%%zz: %d %.200s, want 400", code, body)
	}
	for _, q := range []string{"limit=%zz", "limit=0", "limit=-1", "limit=1&limit=2", "after=%zz", "after=no%20spaces"} {
		if code, body := f.get(t, "/api/devices?"+q); code != 400 {
			t.Errorf("?%s: %d %.200s, want 400", q, code, body)
		}
	}
}

// TestDevicesSurviveMalformedLatest: a latest hash written raw (by a device
// with Redis access) must not take the list down for everyone.
func TestDevicesSurviveMalformedLatest(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	f.ingest(t, temp("good", 1, 20), temp("evil", 1, 21))
	rdb := f.redis.Client(t)
	other, _ := temp("good", 2, 99).MarshalJSON()
	if err := rdb.HSet(context.Background(), "tributary:{evil}:latest",
		"bme280/humidity", "{not json", "bme280/pressure", string(other), "seen", "soon").Err(); err != nil {
		t.Fatal(err)
	}
	var devs []struct {
		ID     string            `json:"id"`
		Latest []reading.Reading `json:"latest"`
	}
	f.getJSON(t, "/api/devices", 200, &devs)
	if len(devs) != 2 || devs[0].ID != "evil" || len(devs[0].Latest) != 1 || devs[0].Latest[0].Value != 21 ||
		devs[1].ID != "good" || devs[1].Latest[0].Value != 20 {
		t.Fatalf("devices = %+v", devs)
	}
}

// TestHistoryReencodes: history answers hold only valid readings of the
// device asked for, in canonical JSON, whatever the stream holds.
func TestHistoryReencodes(t *testing.T) {
	f := newFixture(t, fixtureOptions{})
	ctx := context.Background()
	rdb := f.redis.Client(t)
	f.ingest(t, temp("pi", 1, 20))
	other, _ := temp("someone-else", 2, 99).MarshalJSON()
	raw := func(v string) {
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{pi}:readings", Values: []any{"r", v}}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	raw(`{"x":"</script><script>alert(1)</script>"}`)
	raw(string(other))
	raw(`  {"seq":3,"ts":"2026-11-26T23:00:03Z","unit":"Cel","value":22,"metric":"temperature","sensor":"bme280","device":"pi","extra":"</script>"}  `)
	if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: "tributary:{pi}:readings", Values: []any{"other-field", "x"}}).Err(); err != nil {
		t.Fatal(err)
	}
	f.ingest(t, temp("pi", 4, 23))
	code, body := f.get(t, "/api/devices/pi/readings")
	if code != 200 {
		t.Fatalf("history: %d %s", code, body)
	}
	if strings.Contains(body, "script") || strings.Contains(body, "someone-else") {
		t.Fatalf("history copies stored data: %s", body)
	}
	var got struct {
		Readings []json.RawMessage `json:"readings"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	var seqs []uint64
	for _, r := range got.Readings {
		rd, err := reading.Decode(r)
		if err != nil || string(rd.AppendJSON(nil)) != string(r) {
			t.Fatalf("reading %s is not canonical (%v)", r, err)
		}
		seqs = append(seqs, rd.Seq)
	}
	if fmt.Sprint(seqs) != "[1 4]" && fmt.Sprint(seqs) != "[1 3 4]" {
		t.Fatalf("seqs %v", seqs)
	}
	// Only malformed entries, in the first page or all of it: still JSON.
	for _, limit := range []string{"?limit=2", "?limit=3"} {
		var v map[string]any
		f.getJSON(t, "/api/devices/pi/readings"+limit, 200, &v)
	}
}
