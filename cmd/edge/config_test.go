package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tributary-iot/tributary/hardware"
)

func TestExampleConfigParses(t *testing.T) {
	cfg, err := loadConfig("edge.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Device != "greenhouse-1" || cfg.Interval != time.Second || cfg.Uplink.URL == "" || cfg.Uplink.PasswordFile == "" {
		t.Fatalf("example config parsed as %+v", cfg)
	}
	if len(cfg.Sensors) != 5 || cfg.Sensors[0].Interval != 5*time.Second || cfg.Sensors[2].Interval != 30*time.Second ||
		cfg.Sensors[0].Address != "0x76" || cfg.Sensors[3].Pin != "GPIO17" {
		t.Fatalf("example sensors parsed as %+v", cfg.Sensors)
	}
	// Here, without the hardware: air falls back to its simulation as the
	// file allows; the others stand in, reported down until they answer.
	board, err := hardware.Open(cfg.Sensors, hardware.Options{Device: cfg.Device, Logger: discard()})
	if err != nil {
		t.Fatal(err)
	}
	defer board.Close()
	ss := board.Sensors()
	if len(ss) != 5 || ss[1].Sensor.Name() != "light" || !ss[0].Simulated || ss[1].Simulated {
		t.Fatalf("example opens %d sensors: %+v", len(ss), ss)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"unknown key", "device: a\ndevise: b\n", `line 2: unknown key "devise"`},
		{"unknown nested key", "uplink:\n  url: redis://x\n  passwd: x\n", `line 3: unknown key "passwd"`},
		{"unknown sensor key", "sensors:\n  - name: a\n    driver: sim-door\n    every: 1s\n", `line 4: unknown key "every"`},
		{"bad duration", "interval: soon\n", "line 1"},
		{"negative interval", "interval: -1s\n", "line 1: interval: -1s is below the minimum 10ms"},
		{"too short interval", "interval: 1ms\n", "line 1: interval: 1ms is below the minimum 10ms"},
		{"duration without unit", "interval: 5\n", `line 1: "5" is not a duration: give a unit`},
		{"bad device", "device: \"-x\"\n", "line 1: device: \"-x\" is not a valid device id"},
		{"unknown driver", "sensors:\n  - name: a\n    driver: bme281\n", "line 3: sensors[0].driver: \"bme281\" is not a known driver (known: ads1115, bh1750, bme280"},
		{"missing driver", "sensors:\n  - name: a\n", "line 2: sensors[0].driver: missing"},
		{"missing name", "sensors:\n  - driver: sim-door\n", "line 2: sensors[0].name: missing"},
		{"bad name", "sensors:\n  - name: a b\n    driver: sim-door\n", "line 2: sensors[0].name: \"a b\" is not a valid sensor id"},
		{"duplicate name", "sensors:\n  - name: door\n    driver: sim-door\n  - driver: sim\n", "line 4: sensors[1].name: sensor \"door\" already defined by sensors[0]"},
		{"negative sensor interval", "sensors:\n  - name: a\n    driver: sim-door\n    interval: -2s\n", "line 4: sensors[0].interval: -2s is below the minimum 10ms"},
		{"wrong type", "sensors: yes\n", "line 1"},
		{"uplink scheme", "uplink:\n  url: http://x\n", `line 2: uplink.url: scheme "http": want redis://`},
		{"MQTT uplink without host", "uplink:\n  url: mqtt://\n", "line 2: uplink.url: MQTT URL mqtt:: no host"},
		{"MQTT TLS files without mqtts", "uplink:\n  url: mqtt://x\n  ca_file: ca.pem\n", "line 2: uplink.url: TLS files (ca_file, cert_file, key_file) need an mqtts:// URL"},
		{"MQTT uplink with credentials", "uplink:\n  url: mqtts://pi:hunter2@x\n", "line 2: uplink.url: keep credentials out of the URL"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig([]byte(tc.yaml))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("parseConfig(%q) = %v, want an error containing %q", tc.yaml, err, tc.want)
			}
		})
	}
	if _, err := parseConfig(nil); err != nil {
		t.Fatalf("an empty file: %v", err)
	}
	if _, err := loadConfig("testdata/nonexistent.yaml"); err == nil || !strings.Contains(err.Error(), "nonexistent.yaml") {
		t.Fatalf("missing file: %v", err)
	}
}

func FuzzParseConfig(f *testing.F) {
	f.Add([]byte("device: a\nsensors:\n  - name: x\n    driver: sim\n"))
	f.Add([]byte("uplink: {url: redis://x}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := parseConfig(data)
		if err != nil {
			return
		}
		// Whatever validates must open without panicking.
		board, err := hardware.Open(cfg.Sensors, hardware.Options{Device: "d", Logger: discard()})
		if err != nil {
			t.Fatalf("a valid configuration does not open: %v", err)
		}
		board.Close()
		// Actuators only emulated: never drive a real board's pins from a fuzzer.
		board, err = hardware.Open(nil, hardware.Options{Device: "d", Sim: true, Logger: discard(), Actuators: cfg.Actuators})
		if err != nil {
			t.Fatalf("valid actuators do not open: %v", err)
		}
		board.Close()
	})
}
