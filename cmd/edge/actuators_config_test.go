package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

// TestExampleActuators: the example file's commented actuators, once
// uncommented, are valid and say what they say.
func TestExampleActuators(t *testing.T) {
	data, err := os.ReadFile("edge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	in := false
	for _, l := range strings.Split(string(data), "\n") {
		switch {
		case l == "# actuators:":
			in = true
		case in && strings.HasPrefix(l, "# # "):
			continue
		}
		if in {
			l = strings.TrimPrefix(l, "# ")
		}
		b.WriteString(l + "\n")
	}
	cfg, err := parseConfig([]byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Actuators) != 3 || cfg.Actuators[0].Name != "heater" || !cfg.Actuators[0].ActiveLow || cfg.Actuators[0].MaxOn != 30*time.Minute ||
		cfg.Actuators[1].Frequency != "25kHz" || *cfg.Actuators[1].Min != 20 || cfg.Actuators[2].Pin != "GPIO24" {
		t.Fatalf("example actuators parsed as %+v", cfg.Actuators)
	}
	if len(cfg.Interlocks) != 1 || cfg.Interlocks[0][1] != "fan" || cfg.safeAfter() != 5*time.Minute {
		t.Fatalf("interlocks %v, safe_after %v", cfg.Interlocks, cfg.safeAfter())
	}
	var none fileConfig
	if none.safeAfter() != DefaultSafeAfter {
		t.Error("safe_after default")
	}
}

func TestActuatorConfigErrors(t *testing.T) {
	const base = "sensors:\n  - name: door\n    driver: gpio-input\n    pin: GPIO17\nactuators:\n  - name: heater\n    driver: relay\n    pin: GPIO23\n"
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", base + "    colour: red\n", `line 9: unknown key "colour"`},
		{"unknown driver", "actuators:\n  - name: a\n    driver: servo\n    pin: 5\n", `line 3: actuators[0].driver: "servo" is not an actuator driver`},
		{"missing pin", "actuators:\n  - name: a\n    driver: relay\n", "line 2: actuators[0].pin: missing"},
		{"pin taken by a sensor", base + "  - name: pump\n    driver: relay\n    pin: \"17\"\n", "line 11: actuators[1].pin: GPIO17 is already sensors[0]'s"},
		{"name of a sensor", base + "  - name: door\n    driver: relay\n    pin: GPIO5\n", `line 9: actuators[1].name: "door" is already sensors[0]'s name`},
		{"relay safe", base + "    safe: \"50\"\n", `line 9: actuators[0].safe: "50": want off, on or hold`},
		{"relay frequency", base + "    frequency: 1kHz\n", "line 9: actuators[0].frequency: driver relay does not take frequency"},
		{"pwm max", "actuators:\n  - name: fan\n    driver: pwm\n    pin: GPIO18\n    max: 150\n", "line 5: actuators[0].max: min 0, max 150"},
		{"max_on", base + "    max_on: soon\n", `line 9: "soon" is not a duration`},
		{"interlock unknown", base + "interlocks:\n  - [heater, fan]\n", `line 10: interlocks[0][1]: no actuator "fan"`},
		{"interlock alone", base + "interlocks:\n  - [heater]\n", "line 10: interlocks[0]: an interlock names at least two actuators"},
		{"safe_after", base + "safe_after: -1m\n", "line 9: safe_after: negative -1m0s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseConfig:\n%s\n= %v\nwant an error containing %q", tc.yaml, err, tc.want)
			}
		})
	}
	cfg, err := parseConfig([]byte(base + "safe_after: 0s\n"))
	if err != nil || cfg.safeAfter() != 0 {
		t.Fatalf("safe_after 0: %v, %v", cfg.safeAfter(), err)
	}
}

// TestCheckActuators: edge check explains actuator mistakes with their
// lines, and shows a valid file's actuators.
func TestCheckActuators(t *testing.T) {
	var out bytes.Buffer
	err := run(context.Background(), []string{"check", "--config", "testdata/check-actuator-mistakes.yaml"}, &out, io.Discard)
	if err == nil {
		t.Fatal("check of a bad file passed")
	}
	golden(t, "check-actuator-mistakes.golden", out.Bytes())
	out.Reset()
	if err := run(context.Background(), []string{"check", "--config", "testdata/actuators.yaml"}, &out, io.Discard); err != nil {
		t.Fatal(err)
	}
	golden(t, "check-actuators.golden", out.Bytes())
}
