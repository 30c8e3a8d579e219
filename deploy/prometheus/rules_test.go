// Package prometheus holds only tests: it checks the shipped Prometheus
// configuration and alert rules in this directory with the real promtool
// (the Debian package prometheus; `make deps` installs it), and that every
// alert is described and unit-tested both ways. internal/e2e runs the rules
// in a real Prometheus against the real binaries.
package prometheus

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tributary-iot/tributary/internal/proctest"
)

// promtool runs promtool with args in this directory, failing the test
// with its output unless it succeeds. Under -short it skips; a missing
// promtool fails the test.
func promtool(t *testing.T, args ...string) string {
	t.Helper()
	proctest.SkipShort(t, "promtool")
	bin, err := exec.LookPath("promtool")
	if err != nil {
		t.Fatalf("promtool is not installed (Debian package prometheus; run make deps): %v", err)
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

func TestPromtoolCheckConfig(t *testing.T) {
	out := promtool(t, "check", "config", "prometheus.yml")
	// The config must load the rules, not merely parse.
	if !strings.Contains(out, "alerts.yml") {
		t.Errorf("promtool check config did not check alerts.yml: prometheus.yml does not load it:\n%s", out)
	}
}

func TestPromtoolCheckRules(t *testing.T) {
	promtool(t, "check", "rules", "alerts.yml")
}

func TestPromtoolTestRules(t *testing.T) {
	promtool(t, "test", "rules", "alerts_test.yml")
}

// ruleFile is the part of a Prometheus rule file the checks read.
type ruleFile struct {
	Groups []struct {
		Name  string `yaml:"name"`
		Rules []struct {
			Alert       string            `yaml:"alert"`
			Expr        string            `yaml:"expr"`
			For         string            `yaml:"for"`
			Labels      map[string]string `yaml:"labels"`
			Annotations map[string]string `yaml:"annotations"`
		} `yaml:"rules"`
	} `yaml:"groups"`
}

// testFile is the part of a promtool unit test file the checks read.
type testFile struct {
	RuleFiles []string `yaml:"rule_files"`
	Tests     []struct {
		AlertRuleTest []struct {
			Alertname string `yaml:"alertname"`
			ExpAlerts []any  `yaml:"exp_alerts"`
		} `yaml:"alert_rule_test"`
	} `yaml:"tests"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// TestEveryAlertDescribedAndTested checks what promtool does not: each
// alert waits (for:), says its severity and what to do, and has unit tests
// that see it fire and not fire; and the tests name no alert that does not
// exist (promtool passes an expectation of no alerts for any name).
func TestEveryAlertDescribedAndTested(t *testing.T) {
	var rules ruleFile
	readYAML(t, "alerts.yml", &rules)
	var tests testFile
	readYAML(t, "alerts_test.yml", &tests)
	if !slices.Equal(tests.RuleFiles, []string{"alerts.yml"}) {
		t.Errorf("alerts_test.yml tests rule files %v, want [alerts.yml]", tests.RuleFiles)
	}

	fires, quiet := map[string]int{}, map[string]int{}
	for _, tc := range tests.Tests {
		for _, a := range tc.AlertRuleTest {
			if len(a.ExpAlerts) > 0 {
				fires[a.Alertname]++
			} else {
				quiet[a.Alertname]++
			}
		}
	}
	alerts := map[string]bool{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			if r.Alert == "" {
				continue // a recording rule
			}
			if alerts[r.Alert] {
				t.Errorf("alert %s is defined twice", r.Alert)
			}
			alerts[r.Alert] = true
			if d, err := time.ParseDuration(r.For); err != nil || d <= 0 {
				t.Errorf("alert %s: for: %q, want a positive duration", r.Alert, r.For)
			}
			if s := r.Labels["severity"]; s != "critical" && s != "warning" {
				t.Errorf("alert %s: severity %q, want critical or warning", r.Alert, s)
			}
			for _, k := range []string{"summary", "description"} {
				if strings.TrimSpace(r.Annotations[k]) == "" {
					t.Errorf("alert %s: no %s annotation", r.Alert, k)
				}
			}
			if fires[r.Alert] == 0 {
				t.Errorf("alert %s: no unit test in alerts_test.yml expects it to fire", r.Alert)
			}
			if quiet[r.Alert] == 0 {
				t.Errorf("alert %s: no unit test in alerts_test.yml expects it not to fire", r.Alert)
			}
		}
	}
	if len(alerts) == 0 {
		t.Fatal("alerts.yml defines no alert")
	}
	for name := range fires {
		if !alerts[name] {
			t.Errorf("alerts_test.yml tests alert %s, which alerts.yml does not define", name)
		}
	}
	for name := range quiet {
		if !alerts[name] {
			t.Errorf("alerts_test.yml tests alert %s, which alerts.yml does not define", name)
		}
	}
}
