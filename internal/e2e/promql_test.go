package e2e

// What the Prometheus test needs to read PromQL written elsewhere: the
// expressions of the Grafana dashboards and of the alert rules, Grafana's
// variables replaced so that Prometheus can run them, and the metric names
// each one reads.

import (
	"encoding/json"
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// promExpr is a PromQL expression and where it was written.
type promExpr struct {
	where string // file and panel or alert
	expr  string
}

// dashboardExprs returns the "expr" of every target of every dashboard in
// deploy/grafana/dashboards, with Grafana's variables replaced.
func dashboardExprs(t *testing.T) []promExpr {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "deploy", "grafana", "dashboards", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Grafana dashboards in deploy/grafana/dashboards (%v)", err)
	}
	var out []promExpr
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc any
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		var walk func(v any, title string)
		walk = func(v any, title string) {
			switch v := v.(type) {
			case map[string]any:
				if s, ok := v["title"].(string); ok {
					title = s
				}
				if s, ok := v["expr"].(string); ok && strings.TrimSpace(s) != "" {
					out = append(out, promExpr{where: filepath.Base(f) + ": panel " + strings.TrimSpace(title), expr: grafanaExpr(s)})
				}
				for _, k := range slices.Sorted(maps.Keys(v)) {
					walk(v[k], title)
				}
			case []any:
				for _, e := range v {
					walk(e, title)
				}
			}
		}
		walk(doc, "")
	}
	if len(out) == 0 {
		t.Fatal("the Grafana dashboards hold no PromQL expression")
	}
	return out
}

// alertExprs returns the expression of every rule in deploy/prometheus/alerts.yml.
func alertExprs(t *testing.T) []promExpr {
	t.Helper()
	b, err := os.ReadFile(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	var rf struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			}
		}
	}
	if err := yaml.Unmarshal(b, &rf); err != nil {
		t.Fatalf("%s: %v", alertsFile, err)
	}
	var out []promExpr
	for _, g := range rf.Groups {
		for _, r := range g.Rules {
			out = append(out, promExpr{where: "alerts.yml: " + r.Alert + r.Record, expr: r.Expr})
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s holds no rule", alertsFile)
	}
	return out
}

// alertsFile is the shipped alert rules.
var alertsFile = filepath.Join("..", "..", "deploy", "prometheus", "alerts.yml")

var (
	// grafanaInterval is one of Grafana's interval variables.
	grafanaInterval = regexp.MustCompile(`\$\{?__(?:rate_interval|interval|range)(?:_ms|_s)?\}?`)
	// grafanaVar is any other dashboard variable: $name, ${name[:format]} or [[name]].
	grafanaVar = regexp.MustCompile(`\$\{[A-Za-z0-9_]+(?::[A-Za-z]+)?\}|\$[A-Za-z_][A-Za-z0-9_]*|\[\[[A-Za-z0-9_]+\]\]`)
)

// grafanaExpr replaces Grafana's variables in a dashboard's expression:
// intervals by 1m, others (template variables, used in regexp matchers
// such as instance=~"$instance") by ".*", matching every value.
func grafanaExpr(s string) string {
	s = grafanaInterval.ReplaceAllString(s, "1m")
	return grafanaVar.ReplaceAllString(s, ".*")
}

var (
	// promString is a PromQL string literal.
	promString = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|` + "`[^`]*`")
	// promMatchers is a selector's label matchers, strings removed.
	promMatchers = regexp.MustCompile(`\{[^{}]*\}`)
	// promGrouping is a list of label names after an aggregation or a
	// vector matching keyword.
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	// promIdent is a metric name, function name or keyword.
	promIdent = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames returns the names of the metrics expr reads that the
// Tributary binaries or Prometheus provide: tributary_*, go_*, process_*
// and up, sorted, each once. Label names, label values and function names
// are not metric names.
func metricNames(expr string) []string {
	s := promString.ReplaceAllString(expr, `""`)
	s = promMatchers.ReplaceAllString(s, "{}")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, id := range promIdent.FindAllString(s, -1) {
		if id == "up" || strings.HasPrefix(id, "tributary_") || strings.HasPrefix(id, "go_") || strings.HasPrefix(id, "process_") {
			names = append(names, id)
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func TestMetricNamesOfPromQL(t *testing.T) {
	for _, c := range []struct {
		expr string
		want []string
	}{
		{`up{job=~"tributary.*"} == 0`, []string{"up"}},
		{`sum by (instance) (rate(tributary_cloud_readings_received_total[1m]))`, []string{"tributary_cloud_readings_received_total"}},
		{`histogram_quantile(0.95, sum by (job, uplink, le) (rate(tributary_edge_reading_latency_seconds_bucket{uplink="mqtt"}[5m])))`,
			[]string{"tributary_edge_reading_latency_seconds_bucket"}},
		{`tributary_edge_spool_oldest_age_seconds > 300 and deriv(tributary_edge_spool_readings[10m]) > 0`,
			[]string{"tributary_edge_spool_oldest_age_seconds", "tributary_edge_spool_readings"}},
		// A label value or a label name that looks like a metric is not one.
		{`go_goroutines{job="tributary_cloud_x", up="1"} / on (process_id) group_left (tributary_y) process_open_fds`,
			[]string{"go_goroutines", "process_open_fds"}},
		{`max_over_time(tributary_bridge_mqtt_up[5m]) or vector(0)`, []string{"tributary_bridge_mqtt_up"}},
		{`sum(rate(tributary_cloud_readings_received_total[1m])) / sum(rate(tributary_cloud_readings_received_total[1m] offset 1h))`,
			[]string{"tributary_cloud_readings_received_total"}},
		{`count(uptime_seconds) + setup_total`, nil},
	} {
		if got := metricNames(c.expr); !slices.Equal(got, c.want) {
			t.Errorf("metricNames(%s) = %v, want %v", c.expr, got, c.want)
		}
	}
}

func TestGrafanaExpr(t *testing.T) {
	for in, want := range map[string]string{
		`rate(x[$__rate_interval])`:                    `rate(x[1m])`,
		`increase(x{instance=~"$instance"}[$__range])`: `increase(x{instance=~".*"}[1m])`,
		`rate(x{job=~"${job:regex}"}[${__interval}])`:  `rate(x{job=~".*"}[1m])`,
		`sum(x{a=~"[[a]]"})`:                           `sum(x{a=~".*"})`,
	} {
		if got := grafanaExpr(in); got != want {
			t.Errorf("grafanaExpr(%s) = %s, want %s", in, got, want)
		}
	}
}
