package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/internal/mosquittotest"
	"github.com/tributary-iot/tributary/internal/proctest"
	"github.com/tributary-iot/tributary/internal/redistest"
	"github.com/tributary-iot/tributary/reading"
)

// promServer is a real Prometheus (the Debian package prometheus) on a
// free loopback port with its own storage in a temporary directory.
type promServer struct {
	srv  *proctest.Server
	base string // http://127.0.0.1:port
}

// startPrometheus runs prometheus with config (a prometheus.yml), failing
// the test if it is not installed, and stops it when the test ends.
func startPrometheus(t *testing.T, config string) *promServer {
	t.Helper()
	proctest.SkipShort(t, "prometheus")
	bin, err := exec.LookPath("prometheus")
	if err != nil {
		t.Fatalf("prometheus is not installed (Debian package prometheus; run make deps): %v", err)
	}
	dir := t.TempDir()
	cfg := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	srv, err := proctest.StartServer(proctest.ServerConfig{
		Name: "prometheus",
		Command: func(port int) (*exec.Cmd, error) {
			return exec.Command(bin, "--config.file="+cfg, "--storage.tsdb.path="+filepath.Join(dir, "data"),
				"--web.listen-address="+fmt.Sprintf("127.0.0.1:%d", port), "--storage.tsdb.retention.time=1h"), nil
		},
		Ready: `Server is ready to receive web requests`,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		srv.Stop()
		if t.Failed() {
			t.Logf("--- prometheus log:\n%s", srv.Log.String())
		}
	})
	return &promServer{srv: srv, base: "http://" + srv.Addr()}
}

// get fetches path from Prometheus's HTTP API and decodes its "data" into
// v. It returns the HTTP status and, unless it is 200, the API's error.
func (p *promServer) get(t *testing.T, path string, v any) (int, string) {
	t.Helper()
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.base + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	var env struct {
		Status string          `json:"status"`
		Data   json.RawMessage `json:"data"`
		Error  string          `json:"error"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("GET %s: %s: %v in %s", path, resp.Status, err, body)
	}
	if resp.StatusCode != http.StatusOK {
		return resp.StatusCode, env.Error
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		t.Fatalf("GET %s: %v in %s", path, err, env.Data)
	}
	return resp.StatusCode, ""
}

// promSample is one element of an instant vector.
type promSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"` // [time, "value"]
}

func (s promSample) value(t *testing.T) float64 {
	t.Helper()
	str, _ := s.Value[1].(string)
	v, err := strconv.ParseFloat(str, 64)
	if err != nil {
		t.Fatalf("sample %v: %v", s, err)
	}
	return v
}

// query runs expr as an instant query. It returns the HTTP status and the
// API's error for a query Prometheus refuses (400: it does not parse; 422:
// it cannot be evaluated).
func (p *promServer) query(t *testing.T, expr string) ([]promSample, int, string) {
	t.Helper()
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	status, msg := p.get(t, "/api/v1/query?query="+url.QueryEscape(expr), &data)
	if status != http.StatusOK {
		return nil, status, msg
	}
	if data.ResultType != "vector" {
		return nil, status, ""
	}
	var vec []promSample
	if err := json.Unmarshal(data.Result, &vec); err != nil {
		t.Fatalf("query %s: %v in %s", expr, err, data.Result)
	}
	return vec, status, ""
}

// awaitQuery runs expr until it returns want samples, each a finite number
// >= 0, and returns them; it fails the test after timeout.
func (p *promServer) awaitQuery(t *testing.T, expr string, want int, timeout time.Duration) []promSample {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		vec, status, msg := p.query(t, expr)
		if status != http.StatusOK {
			t.Fatalf("query %s: %d %s", expr, status, msg)
		}
		ok := len(vec) == want
		for _, s := range vec {
			v := s.value(t)
			ok = ok && !math.IsNaN(v) && !math.IsInf(v, 0) && v >= 0
		}
		if ok {
			return vec
		}
		if time.Now().After(deadline) {
			t.Fatalf("query %s: %v after %v, want %d finite samples >= 0", expr, vec, timeout, want)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostPort returns the host:port of an http URL.
func hostPort(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		t.Fatalf("URL %q: %v", raw, err)
	}
	return u.Host
}

// TestPrometheusScrapesTheBinaries runs a real Prometheus, loading the
// shipped alert rules, against a live cloud, a bridge and two edge agents
// (one writing to Redis, one publishing through mosquitto and the bridge)
// with a dashboard client on the cloud's WebSocket. It queries Prometheus
// for the reading counters and the latency histograms, checks that every
// rule evaluates without error, and that every PromQL expression of the
// Grafana dashboards and the alert rules parses and reads only metrics the
// binaries export. Last, a second bridge with the first's client id takes
// its session over, and the TributaryBridgeSessionTakenOver alert's
// expression, silent until then, sees it.
func TestPrometheusScrapesTheBinaries(t *testing.T) {
	proctest.SkipShort(t, "prometheus, redis-server, mosquitto and the built binaries")
	rd := redistest.Start(t, redistest.Options{})
	mq := mosquittotest.Start(t, mosquittotest.Options{})
	_, base := startCloud(t, "--redis", rd.URL())
	bridgeArgs := []string{"--mqtt", mq.URL(), "--redis", rd.URL(), "--client-id", "prom-bridge", "--metrics-listen", "127.0.0.1:0"}
	bridge := proctest.Start(t, "bridge", binPath(t, "bridge"), bridgeArgs...)
	bridgeMetrics := bridge.Await(t, `metrics=(http://127\.0\.0\.1:\d+/metrics)`, 30*time.Second)
	bridge.Await(t, `msg="mqtt connected"`, 30*time.Second)
	viaRedis := startEdgeProc(t, "prom-redis", "--redis", rd.URL(), "--interval", "100ms", "--state-dir", t.TempDir())
	viaMQTT := startEdgeProc(t, "prom-mqtt", "--mqtt", mq.URL(), "--interval", "100ms", "--state-dir", t.TempDir())

	// A dashboard: readings of both devices reach it, and it keeps reading
	// (the cloud observes its write latency per frame written).
	ws := dialStream(t, base, "")
	ws.readings(30*time.Second, func(rs []reading.Reading) bool {
		n := map[string]int{}
		for _, r := range rs {
			n[r.Device]++
		}
		return n["prom-redis"] >= 5 && n["prom-mqtt"] >= 5
	})
	go func() {
		for {
			ws.conn.SetReadDeadline(time.Now().Add(time.Minute))
			if _, _, err := ws.conn.ReadMessage(); err != nil {
				return // closed at the end of the test
			}
		}
	}()

	rules, err := filepath.Abs(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	prom := startPrometheus(t, fmt.Sprintf(`global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [%q]
scrape_configs:
  - job_name: tributary-cloud
    static_configs: [{targets: [%q]}]
  - job_name: tributary-bridge
    static_configs: [{targets: [%q]}]
  - job_name: tributary-edge
    static_configs: [{targets: [%q, %q]}]
`, rules, hostPort(t, base), hostPort(t, bridgeMetrics), hostPort(t, viaRedis.metrics), hostPort(t, viaMQTT.metrics)))

	// Every target scraped, and scraped again (rates need two samples).
	prom.awaitQuery(t, `count_over_time(up[30s]) >= 3 and up == 1`, 4, 30*time.Second)

	t.Run("counters", func(t *testing.T) {
		for expr, want := range map[string]int{
			`increase(tributary_cloud_readings_received_total[10s]) > 0`:                1,
			`increase(tributary_cloud_readings_delivered_total[10s]) > 0`:               1,
			`increase(tributary_bridge_readings_stored_total[10s]) > 0`:                 1,
			`sum by (instance) (increase(tributary_edge_sent_readings_total[10s])) > 0`: 2,
			`sum by (instance) (tributary_edge_dropped_readings_total) == 0`:            2,
		} {
			prom.awaitQuery(t, expr, want, 30*time.Second)
		}
	})

	t.Run("latency", func(t *testing.T) {
		for _, sel := range []string{
			`tributary_edge_reading_latency_seconds_bucket{uplink="redis"}`,
			`tributary_edge_reading_latency_seconds_bucket{uplink="mqtt"}`,
			`tributary_bridge_reading_latency_seconds_bucket`,
			`tributary_cloud_reading_latency_seconds_bucket{stage="relay"}`,
			`tributary_cloud_reading_latency_seconds_bucket{stage="write"}`,
		} {
			var figures []string
			for _, q := range []float64{0.5, 0.95, 0.99} {
				expr := fmt.Sprintf(`histogram_quantile(%v, sum by (le) (rate(%s[10s])))`, q, sel)
				v := prom.awaitQuery(t, expr, 1, 30*time.Second)[0].value(t)
				figures = append(figures, fmt.Sprintf("p%v %.4fs", q*100, v))
			}
			t.Logf("%s: %s", sel, strings.Join(figures, ", "))
		}
	})

	t.Run("rules", func(t *testing.T) {
		// Every rule of alerts.yml loaded and evaluated on the binaries'
		// series without error.
		want := len(alertExprs(t))
		deadline := time.Now().Add(30 * time.Second)
		for {
			var data struct {
				Groups []struct {
					Rules []struct {
						Name, Health, LastError string
						LastEvaluation          time.Time
					}
				}
			}
			if status, msg := prom.get(t, "/api/v1/rules", &data); status != http.StatusOK {
				t.Fatalf("/api/v1/rules: %d %s", status, msg)
			}
			var evaluated, bad []string
			for _, g := range data.Groups {
				for _, r := range g.Rules {
					if r.Health == "err" || r.LastError != "" {
						bad = append(bad, r.Name+": "+r.LastError)
					}
					if r.Health == "ok" && !r.LastEvaluation.IsZero() {
						evaluated = append(evaluated, r.Name)
					}
				}
			}
			if len(bad) > 0 {
				t.Fatalf("rules failing in Prometheus:\n%s", strings.Join(bad, "\n"))
			}
			if len(evaluated) == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d of %d rules evaluated after 30s: %v", len(evaluated), want, evaluated)
			}
			time.Sleep(200 * time.Millisecond)
		}
	})

	t.Run("expressions", func(t *testing.T) {
		var names []string
		if status, msg := prom.get(t, "/api/v1/label/__name__/values", &names); status != http.StatusOK {
			t.Fatalf("metric names: %d %s", status, msg)
		}
		exported := map[string]bool{}
		for _, n := range names {
			exported[n] = true
		}
		exprs := append(dashboardExprs(t), alertExprs(t)...)
		for _, e := range exprs {
			if _, status, msg := prom.query(t, e.expr); status != http.StatusOK {
				t.Errorf("%s: %s: Prometheus answers %d: %s", e.where, e.expr, status, msg)
			}
			used := metricNames(e.expr)
			if len(used) == 0 {
				t.Errorf("%s: %s reads no tributary_, go_ or process_ metric", e.where, e.expr)
			}
			for _, n := range used {
				if !exported[n] {
					t.Errorf("%s: %s reads %s, which no binary exports", e.where, e.expr, n)
				}
			}
		}
		// What the binaries export for their runtime, and what dashboards
		// and alerts may rely on.
		for _, n := range []string{"process_start_time_seconds", "go_goroutines", "tributary_cloud_build_info", "tributary_bridge_build_info", "tributary_edge_build_info"} {
			if !exported[n] {
				t.Errorf("no %s scraped", n)
			}
		}
		t.Logf("%d expressions of the dashboards and alert rules checked", len(exprs))
		if t.Failed() {
			t.Logf("exported: %s", strings.Join(slices.DeleteFunc(names, func(n string) bool {
				return !strings.HasPrefix(n, "tributary_")
			}), " "))
		}
	})

	// A second bridge with the first one's client id: they take each
	// other's session over, and the alert's expression sees it.
	t.Run("session taken over", func(t *testing.T) {
		var expr string
		for _, e := range alertExprs(t) {
			if e.where == "alerts.yml: TributaryBridgeSessionTakenOver" {
				expr = e.expr
			}
		}
		if expr == "" {
			t.Fatal("no alert TributaryBridgeSessionTakenOver in alerts.yml")
		}
		if vec, status, msg := prom.query(t, expr); status != http.StatusOK || len(vec) != 0 {
			t.Fatalf("%s with one bridge: %v (%d %s), want nothing", expr, vec, status, msg)
		}
		other := proctest.Start(t, "bridge 2", binPath(t, "bridge"), bridgeArgs...)
		other.Await(t, `msg="mqtt connected"`, 30*time.Second)
		vec := prom.awaitQuery(t, expr, 1, 30*time.Second)
		if vec[0].Metric["job"] != "tributary-bridge" {
			t.Errorf("%s: %v, want the bridge's series", expr, vec)
		}
	})

	// Every job exports the Go and process collectors: restarts and
	// memory are seen for each binary.
	t.Run("runtime", func(t *testing.T) {
		prom.awaitQuery(t, `count by (job) (process_start_time_seconds)`, 3, 30*time.Second)
		prom.awaitQuery(t, `count by (job) (go_memstats_heap_inuse_bytes)`, 3, 30*time.Second)
	})
}
