package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"strconv"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/hardware"
	"github.com/tributary-iot/tributary/internal/yamlconf"
	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

// fileConfig is the YAML configuration file; see edge.example.yaml. Every
// field is optional; flags override it.
type fileConfig struct {
	Device        string                  `yaml:"device"`
	StateDir      string                  `yaml:"state_dir"`
	Interval      time.Duration           `yaml:"interval"`
	MetricsListen *string                 `yaml:"metrics_listen"` // nil: default; "": disabled
	Listen        string                  `yaml:"listen"`         // the dashboard's address; "": off
	Clock         string                  `yaml:"clock"`
	Spool         spoolFile               `yaml:"spool"`
	DrainRate     float64                 `yaml:"drain_rate"`
	Uplink        uplinkConfig            `yaml:"uplink"`
	Sensors       []hardware.SensorConfig `yaml:"sensors"`

	Actuators  []hardware.ActuatorConfig `yaml:"actuators"`
	Interlocks [][]string                `yaml:"interlocks"` // groups of actuators never on together
	SafeAfter  *time.Duration            `yaml:"safe_after"` // nil: DefaultSafeAfter; 0: never
}

// DefaultSafeAfter is how long the uplink may be lost before every
// actuator goes to its safe state, when the file does not say.
const DefaultSafeAfter = 5 * time.Minute

// safeAfter is the file's safe_after, its default applied.
func (c *fileConfig) safeAfter() time.Duration {
	if c.SafeAfter == nil {
		return DefaultSafeAfter
	}
	return *c.SafeAfter
}

type uplinkConfig struct {
	URL          string `yaml:"url"`
	Username     string `yaml:"username"`
	CAFile       string `yaml:"ca_file"`
	CertFile     string `yaml:"cert_file"`
	KeyFile      string `yaml:"key_file"`
	PasswordFile string `yaml:"password_file"`
}

// loadConfig reads and validates the configuration file at path. Unknown
// keys are errors; every error names the file, the line and the key.
func loadConfig(path string) (fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileConfig{}, fmt.Errorf("config: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		return fileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return cfg, nil
}

func parseConfig(data []byte) (fileConfig, error) {
	var cfg fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var errs []error
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return cfg, errors.New(yamlconf.PlainError(err.Error(), keysHint))
		}
		for _, e := range te.Errors { // every mistake, not just the first
			errs = append(errs, errors.New(yamlconf.PlainError(e, keysHint)))
		}
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return cfg, err
	}
	return cfg, errors.Join(append(errs, cfg.validate(&root))...)
}

// validate checks what the types alone do not; root is the parsed document,
// for line numbers.
func (c *fileConfig) validate(root *yaml.Node) error {
	var errs []error // every mistake, each with its line
	at := func(path ...string) string {
		if l := yamlconf.Line(root, path...); l > 0 {
			return "line " + strconv.Itoa(l) + ": "
		}
		return ""
	}
	if c.Device != "" && !reading.ValidID(c.Device) {
		errs = append(errs, fmt.Errorf("%sdevice: %q is not a valid device id (1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit)", at("device"), c.Device, reading.MaxIDLen))
	}
	switch c.Clock {
	case "", agent.ClockAuto, agent.ClockKernel, agent.ClockTrust:
	default:
		errs = append(errs, fmt.Errorf("%sclock: %q: want %s, %s or %s", at("clock"), c.Clock, agent.ClockAuto, agent.ClockKernel, agent.ClockTrust))
	}
	if mqttwire.IsURL(c.Uplink.URL) {
		u, err := mqttwire.ParseURL(c.Uplink.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%suplink.url: %w", at("uplink", "url"), err))
		case u.User != nil:
			errs = append(errs, fmt.Errorf("%suplink.url: keep credentials out of the URL: use username and password_file", at("uplink", "url")))
		case !u.Secure && (c.Uplink.CAFile != "" || c.Uplink.CertFile != "" || c.Uplink.KeyFile != ""):
			errs = append(errs, fmt.Errorf("%suplink.url: TLS files (ca_file, cert_file, key_file) need an mqtts:// URL", at("uplink", "url")))
		}
	} else if c.Uplink.URL != "" {
		u, err := url.Parse(c.Uplink.URL)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%suplink.url: not a URL", at("uplink", "url")))
		case u.Scheme != "redis" && u.Scheme != "rediss":
			errs = append(errs, fmt.Errorf("%suplink.url: scheme %q: want redis://, rediss://, mqtt:// or mqtts://", at("uplink", "url"), u.Scheme))
		}
	}
	if c.Uplink.Username != "" {
		switch {
		case !mqttwire.IsURL(c.Uplink.URL):
			errs = append(errs, fmt.Errorf("%suplink.username: only for an mqtt:// or mqtts:// uplink (a Redis user goes in the URL, its password in password_file)", at("uplink", "username")))
		case c.Device != "" && c.Uplink.Username != c.Device:
			errs = append(errs, fmt.Errorf("%suplink.username: %q differs from the device id %q: the broker ACL lets a user publish only under its own name, and mosquitto acknowledges a refused publish, so every reading would vanish", at("uplink", "username"), c.Uplink.Username, c.Device))
		}
	}
	if c.Interval != 0 && c.Interval < hardware.MinInterval {
		errs = append(errs, fmt.Errorf("%sinterval: %v is below the minimum %v", at("interval"), c.Interval, hardware.MinInterval))
	}
	if c.Spool.Sync != "" {
		if err := new(spool.SyncPolicy).Set(c.Spool.Sync); err != nil {
			errs = append(errs, fmt.Errorf("%sspool.sync: %q: want always, interval or never", at("spool", "sync"), c.Spool.Sync))
		}
	}
	if c.Spool.Full != "" {
		if err := new(spool.FullPolicy).Set(c.Spool.Full); err != nil {
			errs = append(errs, fmt.Errorf("%sspool.full: %q: want oldest or newest", at("spool", "full"), c.Spool.Full))
		}
	}
	if c.Spool.MaxSize != "" {
		if _, err := parseSize(c.Spool.MaxSize); err != nil {
			errs = append(errs, fmt.Errorf("%sspool.max_size: %w", at("spool", "max_size"), err))
		}
	}
	if c.Spool.MaxAge < 0 {
		errs = append(errs, fmt.Errorf("%sspool.max_age: negative %v", at("spool", "max_age"), c.Spool.MaxAge))
	}
	written := func(i int) []string { return keysAt(root, "sensors", strconv.Itoa(i)) }
	for _, e := range hardware.Validate(c.Sensors, c.Interval, written) {
		path := []string{"sensors", strconv.Itoa(e.Index)}
		if !e.Whole {
			path = append(path, e.Key)
		}
		errs = append(errs, fmt.Errorf("%s%w", at(path...), e))
	}
	writtenActuator := func(i int) []string { return keysAt(root, "actuators", strconv.Itoa(i)) }
	for _, e := range hardware.ValidateActuators(c.Sensors, c.Actuators, c.Interlocks, writtenActuator) {
		errs = append(errs, fmt.Errorf("%s%w", at(e.Path()...), e))
	}
	if c.SafeAfter != nil && *c.SafeAfter < 0 {
		errs = append(errs, fmt.Errorf("%ssafe_after: negative %v (0s: never)", at("safe_after"), *c.SafeAfter))
	}
	return errors.Join(errs...)
}

// keysAt returns the keys of the mapping at path in root, or nil if there
// is none.
func keysAt(root *yaml.Node, path ...string) []string {
	n := root
	if n == nil {
		return nil
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		var next *yaml.Node
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
				}
			}
		case yaml.SequenceNode:
			if i, err := strconv.Atoi(p); err == nil && i >= 0 && i < len(n.Content) {
				next = n.Content[i]
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	if n.Kind != yaml.MappingNode {
		return nil
	}
	ks := []string{}
	for i := 0; i+1 < len(n.Content); i += 2 {
		ks = append(ks, n.Content[i].Value)
	}
	return ks
}

// keysHint follows an unknown key in the configuration's errors.
const keysHint = "see edge.example.yaml for the keys"
