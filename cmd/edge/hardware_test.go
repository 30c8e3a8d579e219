package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/sim"
	ads1115sim "github.com/tributary-iot/tributary/sim/chip/ads1115"
	bh1750sim "github.com/tributary-iot/tributary/sim/chip/bh1750"
	bme280sim "github.com/tributary-iot/tributary/sim/chip/bme280"
	sht3xsim "github.com/tributary-iot/tributary/sim/chip/sht3x"
	sht4xsim "github.com/tributary-iot/tributary/sim/chip/sht4x"
	"github.com/tributary-iot/tributary/sim/gpiosim"
	"github.com/tributary-iot/tributary/sim/i2csim"
	"github.com/tributary-iot/tributary/sim/w1sim"
)

// metricsOf is the /metrics endpoint of a run, found in its log.
func metricsOf(t *testing.T, r *running) string {
	t.Helper()
	re := regexp.MustCompile(`metrics=(http://\S+/metrics)`)
	var url string
	await(t, "the metrics address in the log", func() bool {
		if m := re.FindStringSubmatch(r.stderr.String()); m != nil {
			url = m[1]
		}
		return url != ""
	})
	return url
}

// scrape returns the samples of /metrics, by series as written
// (`name{label="v",...}`).
func scrape(t *testing.T, url string) map[string]float64 {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[line[:i]] = v
	}
	return out
}

// TestSimEveryDriver runs `edge --sim` with one sensor of every hardware
// driver: the real drivers over emulated chips and pins, registered under
// the configured bus and pin names. Every series reaches Redis with its
// unit, the values are physically plausible, and the sensors show as
// simulated.
func TestSimEveryDriver(t *testing.T) {
	srv := redistest.Start(t, redistest.Options{})
	r := startRun(t, "--sim", "--config", "testdata/sim-all.yaml", "--device", "sim-every", "--redis", srv.URL(),
		"--state-dir", t.TempDir(), "--metrics-listen", "127.0.0.1:0")
	url := metricsOf(t, r)
	want := map[string]struct {
		unit     string
		min, max float64
	}{
		"air/temperature":       {"Cel", -10, 45},
		"air/humidity":          {"%", 1, 100},
		"air/pressure":          {"hPa", 900, 1100},
		"baro/temperature":      {"Cel", -10, 45},
		"baro/pressure":         {"hPa", 900, 1100},
		"leaf/temperature":      {"Cel", -10, 45},
		"leaf/humidity":         {"%", 1, 100},
		"canopy/temperature":    {"Cel", -10, 45},
		"canopy/humidity":       {"%", 1, 100},
		"light/illuminance":     {"lx", 0, 120000},
		"soil/moisture":         {"%", 0, 100},
		"battery/voltage":       {"V", 11, 14.5},
		"door/door":             {"1", 0, 1},
		"hall/motion":           {"1", 0, 1},
		"rain/count":            {"mm", 0, 1000},
		"rain/rate":             {"mm/h", 0, 500},
		"soil-temp/temperature": {"Cel", -10, 45},
	}
	got := map[string]bool{}
	await(t, "a reading of every series", func() bool {
		for _, rd := range history(t, srv, "sim-every") {
			k := rd.Sensor + "/" + rd.Metric
			w, ok := want[k]
			if !ok {
				t.Fatalf("unexpected series %s: %+v", k, rd)
			}
			if rd.Unit != w.unit || rd.Value < w.min || rd.Value > w.max {
				t.Fatalf("%s: %v %s, want %s within %v..%v", k, rd.Value, rd.Unit, w.unit, w.min, w.max)
			}
			got[k] = true
		}
		return len(got) == len(want)
	})
	m := scrape(t, url)
	for _, s := range []string{"air", "baro", "leaf", "canopy", "light", "soil", "battery", "door", "hall", "rain", "soil-temp"} {
		if v := m[`tributary_edge_sensor_simulated{sensor="`+s+`"}`]; v != 1 {
			t.Errorf("sensor_simulated{%s} = %v, want 1", s, v)
		}
		if v := m[`tributary_edge_sensor_up{sensor="`+s+`"}`]; v != 1 {
			t.Errorf("sensor_up{%s} = %v, want 1", s, v)
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// Stopping gave the registered bus and pin names back: a second run
	// registers them again.
	r2 := startRun(t, "--sim", "--config", "testdata/sim-all.yaml", "--device", "sim-again", "--redis", srv.URL(),
		"--state-dir", t.TempDir(), "--metrics-listen", "")
	await(t, "readings of the second run", func() bool { return len(history(t, srv, "sim-again")) > 20 })
	if err := r2.stop(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r2.stderr.String(), "cannot register") {
		t.Fatalf("the second run could not register the emulated hardware:\n%s", r2.stderr.String())
	}
}

// bench is emulated hardware a test registers under names of its own, as
// a board's drivers would (host.Init): the agent opens it as real
// hardware, without --sim.
type bench struct {
	bus   *i2csim.Bus
	air   *bme280sim.Chip
	leaf  *sht3xsim.Chip
	dew   *sht4xsim.Chip
	light *bh1750sim.Chip
	soil  *ads1115sim.Chip
	door  *gpiosim.Pin
	w1    *w1sim.Tree
}

const probeID = "28-0316a2795bff"

// jitter is a source of values that wander a little, so that no healthy
// chip reads as stuck.
func jitter(base, spread float64) func() float64 {
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, 2))
	return func() float64 {
		mu.Lock()
		defer mu.Unlock()
		return base + spread*rng.NormFloat64()
	}
}

func newBench(t *testing.T, prefix string) *bench {
	t.Helper()
	climate := sim.NewClimate(sim.ClimateOptions{Seed: 7})
	lux := jitter(400, 20)
	volts := jitter(2.0, 0.002)
	b := &bench{
		bus:   i2csim.NewBus(prefix + "BUS"),
		air:   bme280sim.NewClimate(bme280sim.BME280, climate, nil),
		leaf:  sht3xsim.NewClimate(climate, nil),
		dew:   sht4xsim.NewClimate(climate, nil),
		light: bh1750sim.New(func() float64 { return lux() }),
		soil:  ads1115sim.New(ads1115sim.Options{Inputs: [4]ads1115sim.Input{func(time.Time) float64 { return volts() }}}),
		door:  gpiosim.New(gpiosim.Options{Name: prefix + "_GPIO17", Wiring: gpiosim.ContactToGround}),
	}
	b.bus.Attach(0x76, b.air)
	b.bus.Attach(0x44, b.leaf)
	b.bus.Attach(0x46, b.dew)
	b.bus.Attach(0x23, b.light)
	b.bus.Attach(0x48, b.soil)
	if err := b.bus.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.bus.Unregister() })
	if err := b.door.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.door.Unregister() })
	var err error
	if b.w1, err = w1sim.New(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	soil := jitter(12, 0.2)
	if err := b.w1.Add(probeID, func(time.Time) float64 { return soil() }, w1sim.AllFiles); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		b.w1.Run(ctx, 100*time.Millisecond, nil)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return b
}

// TestHardwareFaults runs the agent on emulated hardware opened as a
// board's (no --sim) and injects every fault at run time, through the
// emulators: each shows in the metrics with its kind, and the sensor down,
// while the other sensors keep producing; each recovery is picked up.
// A sensor whose hardware is missing at start is reported down without
// fallback, simulated with it, and picked up once it is plugged in.
func TestHardwareFaults(t *testing.T) {
	b := newBench(t, "FAULTS")
	srv := redistest.Start(t, redistest.Options{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "edge.yaml")
	write(t, cfg, `device: faults
interval: 50ms
sensors:
  - {name: air, driver: bme280, bus: FAULTSBUS, address: 0x76}
  - {name: leaf, driver: sht3x, bus: FAULTSBUS, address: 0x44}
  - {name: dew, driver: sht4x, bus: FAULTSBUS, address: 0x46}
  - {name: light, driver: bh1750, bus: FAULTSBUS, address: 0x23, interval: 250ms}
  - {name: soil, driver: ads1115, bus: FAULTSBUS, address: 0x48, stuck_after: 3}
  - {name: door, driver: gpio-input, pin: FAULTS_GPIO17, metric: door, debounce: 5ms}
  - {name: late, driver: sht3x, bus: FAULTSBUS, address: 0x45}
  - {name: ghost, driver: bme280, bus: NOSUCHBUS, fallback: sim}
  - {name: nopin, driver: gpio-input, pin: FAULTS_GPIO99}
  - {name: probe, driver: ds18b20, id: `+probeID+`, w1_dir: `+b.w1.Root()+`, interval: 1s}
`)
	r := startRun(t, "--config", cfg, "--redis", srv.URL(), "--state-dir", dir, "--metrics-listen", "127.0.0.1:0")
	url := metricsOf(t, r)
	metric := func(name, sensor string, kind ...string) float64 {
		k := name + `{sensor="` + sensor + `"}`
		if len(kind) > 0 {
			k = name + `{kind="` + kind[0] + `",sensor="` + sensor + `"}`
		}
		return scrape(t, url)[k]
	}
	readings := func(sensor string) float64 { return metric("tributary_edge_readings_total", sensor) }
	healthOf := func(sensor string) agent.SensorHealth {
		resp, err := http.Get(strings.TrimSuffix(url, "/metrics") + "/health")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var h struct{ Sensors []agent.SensorHealth }
		if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
			t.Fatal(err)
		}
		for _, s := range h.Sensors {
			if s.Sensor == sensor {
				return s
			}
		}
		t.Fatalf("no sensor %s in /health: %+v", sensor, h)
		return agent.SensorHealth{}
	}

	// Missing at start: "late" (nothing at 0x45) is down with no_device and
	// not simulated; "ghost" (no such bus) is simulated as allowed;
	// "nopin" (no such pin) is down.
	await(t, "late down with no_device", func() bool { return metric("tributary_edge_sensor_errors_total", "late", "no_device") >= 3 })
	await(t, "ghost producing, simulated", func() bool { return readings("ghost") > 0 })
	await(t, "nopin down with no_device", func() bool { return metric("tributary_edge_sensor_errors_total", "nopin", "no_device") >= 1 })
	if h := healthOf("late"); h.State != agent.SensorDown || h.LastErrorKind != "no_device" || h.Simulated {
		t.Errorf("/health of late: %+v", h)
	}
	if h := healthOf("ghost"); !h.Simulated {
		t.Errorf("/health of ghost: %+v, want simulated", h)
	}
	if metric("tributary_edge_sensor_simulated", "ghost") != 1 || metric("tributary_edge_sensor_simulated", "late") != 0 {
		t.Fatalf("simulated: ghost %v (want 1), late %v (want 0)", metric("tributary_edge_sensor_simulated", "ghost"), metric("tributary_edge_sensor_simulated", "late"))
	}
	logs := r.stderr.String()
	for _, want := range []string{
		"sensor ghost: hardware not found", "simulating it as configured",
		"sensor late: hardware not found", "reporting it down and retrying",
		"sensor nopin: hardware not found",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q", want)
		}
	}

	// Plugged in while the agent runs: picked up at the next retry.
	t.Run("plugged in late", func(t *testing.T) {
		b.bus.Attach(0x45, sht3xsim.New(sht3xsim.Options{Input: func(time.Time) (float64, float64) { return 21 + rand.Float64(), 40 + rand.Float64() }}))
		await(t, "late producing", func() bool { return readings("late") > 0 && metric("tributary_edge_sensor_up", "late") == 1 })
		if !strings.Contains(r.stderr.String(), "sensor late: hardware found; reading it") {
			t.Errorf("log does not say late was found")
		}
	})

	t.Run("GPIO pin appears", func(t *testing.T) {
		p := gpiosim.New(gpiosim.Options{Name: "FAULTS_GPIO99", Wiring: gpiosim.ContactToGround})
		if err := p.Register(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { p.Unregister() })
		await(t, "nopin producing", func() bool { return readings("nopin") > 0 })
	})

	for _, tc := range []struct {
		name, sensor, kind string
		inject, clear      func()
	}{
		{"no-ack", "air", "no_device", func() { b.bus.SetFault(0x76, i2csim.NoAck) }, func() { b.bus.SetFault(0x76, i2csim.OK) }},
		{"bus error", "leaf", "bus", func() { b.bus.SetFault(0x44, i2csim.BusError) }, func() { b.bus.SetFault(0x44, i2csim.OK) }},
		{"CRC", "leaf", "crc", func() { b.leaf.SetFault(sht3xsim.CRC) }, func() { b.leaf.SetFault(sht3xsim.OK) }},
		{"CRC (SHT4x)", "dew", "crc", func() { b.dew.SetFault(sht4xsim.CRC) }, func() { b.dew.SetFault(sht4xsim.OK) }},
		{"out of range (SHT4x)", "dew", "out_of_range", func() { b.dew.SetFault(sht4xsim.OutOfRange) }, func() { b.dew.SetFault(sht4xsim.OK) }},
		{"out of range (BME280)", "air", "out_of_range", func() { b.air.SetFault(bme280sim.OutOfRange) }, func() { b.air.SetFault(bme280sim.OK) }},
		{"out of range (BH1750 saturated)", "light", "out_of_range", func() { b.light.SetFault(bh1750sim.OutOfRange) }, func() { b.light.SetFault(bh1750sim.OK) }},
		{"stuck", "soil", "stuck", func() { b.soil.SetFault(ads1115sim.Stuck) }, func() { b.soil.SetFault(ads1115sim.OK) }},
		{"chip unplugged", "air", "no_device", func() { b.bus.Detach(0x76) }, func() { b.bus.Attach(0x76, b.air) }},
		{"DS18B20 vanishes", "probe", "no_device", func() { b.w1.SetFault(probeID, w1sim.Vanished) }, func() { b.w1.SetFault(probeID, w1sim.OK) }},
		{"DS18B20 CRC", "probe", "crc", func() { b.w1.SetFault(probeID, w1sim.CRCError) }, func() { b.w1.SetFault(probeID, w1sim.OK) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := metric("tributary_edge_sensor_errors_total", tc.sensor, tc.kind)
			tc.inject()
			await(t, fmt.Sprintf("%s down with %s", tc.sensor, tc.kind), func() bool {
				return metric("tributary_edge_sensor_errors_total", tc.sensor, tc.kind) >= before+3 && metric("tributary_edge_sensor_up", tc.sensor) == 0
			})
			if h := healthOf(tc.sensor); h.State != agent.SensorDown || h.LastErrorKind != tc.kind {
				t.Errorf("/health of %s: %+v, want down with %s", tc.sensor, h, tc.kind)
			}
			// The others keep producing meanwhile.
			others := map[string]float64{}
			for _, s := range []string{"air", "leaf", "dew", "soil", "ghost"} {
				if s != tc.sensor {
					others[s] = readings(s)
				}
			}
			await(t, "the other sensors producing", func() bool {
				for s, n := range others {
					if readings(s) <= n {
						return false
					}
				}
				return true
			})
			tc.clear()
			n := readings(tc.sensor)
			await(t, tc.sensor+" recovered", func() bool {
				return metric("tributary_edge_sensor_up", tc.sensor) == 1 && readings(tc.sensor) > n && healthOf(tc.sensor).State == agent.SensorOK
			})
		})
	}

	t.Run("GPIO pin stops", func(t *testing.T) {
		// A door change is reported as it happens...
		n := readings("door")
		b.door.Set(gpio.High) // opened
		await(t, "the door's opening", func() bool { return lastValue(t, srv, "faults", "door") == 1 })
		// ...but a pin that stops (a broken wire) changes no more: the
		// closing is not seen, the heartbeat goes on with the last state,
		// and the other sensors are unaffected.
		b.door.SetStuck(true)
		b.door.Set(gpio.Low)
		await(t, "door heartbeats while stuck", func() bool { return readings("door") > n+5 })
		if v := lastValue(t, srv, "faults", "door"); v != 1 {
			t.Fatalf("a stuck pin reported a change: door %v", v)
		}
		b.door.SetStuck(false) // the wire mended: the level follows again
		await(t, "the door's closing once the pin works", func() bool { return lastValue(t, srv, "faults", "door") == 0 })
	})

	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

// lastValue is the value of the newest reading of sensor in Redis (-1 if
// none).
func lastValue(t *testing.T, srv *redistest.Server, dev, sensor string) float64 {
	t.Helper()
	rs := history(t, srv, dev)
	for i := len(rs) - 1; i >= 0; i-- {
		if rs[i].Sensor == sensor {
			return rs[i].Value
		}
	}
	return -1
}
