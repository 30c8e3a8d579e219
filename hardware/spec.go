package hardware

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"periph.io/x/conn/v3/gpio"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/ads1115"
)

// spec is a sensor's configuration checked against its driver, with
// its defaults applied: what opening and emulating the sensor use.
type spec struct {
	name     string
	driver   Driver
	interval time.Duration // 0: the agent's default
	timeout  time.Duration // 0: the agent's default
	fallback bool

	bus        string // I²C bus as configured
	addr       uint16
	stuckAfter int

	channel  ads1115.Channel
	metric   string
	scale    float64
	dry, wet float64

	pin      string
	debounce time.Duration
	pull     string
	invert   bool
	unit     string
	ratePer  time.Duration

	id    string
	w1Dir string
}

// spec checks c against d and returns its spec and every mistake found.
// keys are the keys written (nil: those not zero).
func (c SensorConfig) spec(d Driver, keys []string) (spec, []*ConfigError) {
	s := spec{name: c.Name, driver: d, interval: c.Interval, timeout: c.Timeout}
	var errs []*ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if keys == nil {
		keys = c.setKeys()
	}
	common := "name, driver, interval and timeout"
	if d.kind() != kindSim {
		common = "name, driver, interval, timeout and fallback"
	}
	for _, k := range keys {
		if !slices.Contains(sensorKeys, k) {
			continue // an unknown key: the YAML decoder says so
		}
		if !slices.Contains(commonKeys, k) && !slices.Contains(d.keys, k) {
			takes := "nothing else"
			if len(d.keys) > 0 {
				takes = strings.Join(d.keys, ", ")
			}
			bad(k, "driver %s does not take %s (besides %s, it takes %s)", d.Name, k, common, takes)
		}
	}
	switch c.Fallback {
	case "":
	case fallbackSim:
		if d.kind() == kindSim && slices.Contains(keys, "fallback") {
			bad("fallback", "driver %s is a simulation already: fallback does not apply", d.Name)
		}
		s.fallback = true
	default:
		bad("fallback", "%q: the only fallback is %q (default: none, the sensor is reported down until it answers)", c.Fallback, fallbackSim)
	}
	if c.Interval != 0 && c.Interval < MinInterval {
		bad("interval", "%v is below the minimum %v", c.Interval, MinInterval)
	} else if c.Interval != 0 && c.Interval < d.minInterval {
		bad("interval", "%v is shorter than one %s measurement (%v): give at least that", c.Interval, d.Name, d.minInterval)
	}

	if c.Timeout != 0 && c.Timeout < MinTimeout {
		bad("timeout", "%v is below the minimum %v (leave it out for the agent's default)", c.Timeout, MinTimeout)
	}

	if slices.Contains(d.keys, "stuck_after") {
		s.stuckAfter = c.StuckAfter
		if c.StuckAfter < -1 || c.StuckAfter == 1 {
			bad("stuck_after", "%d: want 2 or more reads, or -1 for never (default: the driver's)", c.StuckAfter)
		}
	}
	switch d.kind() {
	case kindI2C:
		s.bus = cmp.Or(c.Bus, defaultBus)
		if strings.ContainsAny(s.bus, " :/") {
			bad("bus", "%q is not an I²C bus: give its number (1 for /dev/i2c-1) or name (I2C1)", c.Bus)
		}
		s.addr = d.i2c().addrs[0]
		if c.Address != "" {
			a, err := parseAddr(c.Address)
			switch {
			case err != nil:
				bad("address", "%v", err)
				s.addr = 0
			case !slices.Contains(d.i2c().addrs, a):
				bad("address", "%#02x: a %s answers only at %s", a, d.Name, addrList(d.i2c().addrs))
				s.addr = 0
			default:
				s.addr = a
			}
		}
	case kindGPIO:
		if c.Pin == "" {
			errs = append(errs, &ConfigError{Key: "pin", Whole: true, Msg: "missing (a GPIO name such as GPIO17, BCM numbering)"})
		} else if p, err := parsePin(c.Pin); err != nil {
			bad("pin", "%v", err)
		} else {
			s.pin = p
		}
		if c.Debounce < 0 || c.Debounce > time.Second {
			bad("debounce", "%v: want 0 to 1s", c.Debounce)
		}
		s.debounce = c.Debounce
		switch c.Pull {
		case "", "up", "down", "none":
			s.pull = c.Pull
		default:
			bad("pull", "%q: want up (for a contact to ground), down or none (a sensor that drives the line, such as a PIR)", c.Pull)
		}
		s.invert = c.Invert
		s.unit = cmp.Or(c.Unit, sensors.UnitOne)
		if c.Unit != "" && (len(c.Unit) > 16 || strings.ContainsAny(c.Unit, " \t\"")) {
			bad("unit", "%q is not a unit: give a short code such as mm or L", c.Unit)
		}
		switch c.RatePer {
		case "", "1s", "s":
			s.ratePer = time.Second
		case "1m", "m", "min":
			s.ratePer = time.Minute
		case "1h", "h":
			s.ratePer = time.Hour
		default:
			bad("rate_per", "%q: want 1s, 1m or 1h", c.RatePer)
		}
	case kind1Wire:
		s.w1Dir = cmp.Or(c.W1Dir, DefaultW1Dir)
		switch {
		case c.ID == "": // the only probe on the bus
		case !validW1ID(strings.ToLower(c.ID)):
			bad("id", "%q is not a DS18B20 id: want 28- and 12 hex digits, as under %s", c.ID, DefaultW1Dir)
		default:
			s.id = strings.ToLower(c.ID)
		}
	}

	if slices.Contains(d.keys, "channel") {
		ch, err := ads1115.ParseChannel(cmp.Or(c.Channel, "0"))
		if err != nil {
			bad("channel", "%q: want 0, 1, 2 or 3 (against GND) or 0-1, 0-3, 1-3, 2-3 (differential)", c.Channel)
			ch = -1
		}
		s.channel = ch
	}
	if slices.Contains(d.keys, "metric") {
		s.metric = cmp.Or(c.Metric, d.metrics[0])
		if !slices.Contains(d.metrics, s.metric) {
			bad("metric", "%q: %s measures %s", c.Metric, d.Name, orList(d.metrics))
		}
	}
	if slices.Contains(d.keys, "scale") {
		s.scale = cmp.Or(c.Scale, 1)
		switch {
		case c.Scale < 0 || c.Scale > 1000:
			bad("scale", "%v: want a factor above 0 (a divider's ratio, such as 11 for 100k over 10k)", c.Scale)
		case c.Scale != 0 && d.kind() == kindI2C && s.metric != sensors.MetricVoltage:
			bad("scale", "applies to metric voltage only; moisture takes dry_volts and wet_volts")
		}
	}
	if slices.Contains(d.keys, "dry_volts") {
		s.dry, s.wet = ads1115.SoilDryVolts, ads1115.SoilWetVolts
		if c.DryVolts != nil {
			s.dry = *c.DryVolts
		}
		if c.WetVolts != nil {
			s.wet = *c.WetVolts
		}
		key := "wet_volts"
		if c.DryVolts != nil {
			key = "dry_volts"
		}
		if (c.DryVolts != nil || c.WetVolts != nil) && s.metric != sensors.MetricMoisture {
			bad(key, "applies to metric moisture only")
		} else if s.dry == s.wet || s.dry < 0 || s.wet < 0 || s.dry > 6.144 || s.wet > 6.144 {
			bad(key, "dry %v V and wet %v V: want two different voltages within 0..6.144 V", s.dry, s.wet)
		}
	}
	return s, errs
}

// commonKeys are the keys every sensor takes; sensorKeys all of them.
var (
	commonKeys = []string{"name", "driver", "interval", "timeout", "fallback"}
	sensorKeys = []string{"name", "driver", "interval", "timeout", "fallback", "bus", "address", "stuck_after", "channel", "metric",
		"scale", "dry_volts", "wet_volts", "pin", "debounce", "pull", "invert", "unit", "rate_per", "id", "w1_dir"}
)

// setKeys lists the keys of c that are not zero, for a config made in Go
// rather than read from a file.
func (c SensorConfig) setKeys() []string {
	var ks []string
	for _, kv := range []struct {
		k   string
		set bool
	}{
		{"name", c.Name != ""}, {"driver", c.Driver != ""}, {"interval", c.Interval != 0}, {"timeout", c.Timeout != 0}, {"fallback", c.Fallback != ""},
		{"bus", c.Bus != ""}, {"address", c.Address != ""}, {"stuck_after", c.StuckAfter != 0}, {"channel", c.Channel != ""}, {"metric", c.Metric != ""},
		{"scale", c.Scale != 0}, {"dry_volts", c.DryVolts != nil}, {"wet_volts", c.WetVolts != nil},
		{"pin", c.Pin != ""}, {"debounce", c.Debounce != 0}, {"pull", c.Pull != ""}, {"invert", c.Invert},
		{"unit", c.Unit != ""}, {"rate_per", c.RatePer != ""}, {"id", c.ID != ""}, {"w1_dir", c.W1Dir != ""},
	} {
		if kv.set {
			ks = append(ks, kv.k)
		}
	}
	return ks
}

// parseAddr reads an I²C address written 0x76 (or 118).
func parseAddr(s string) (uint16, error) {
	v, err := strconv.ParseUint(s, 0, 16)
	if err != nil {
		return 0, fmt.Errorf("%q is not an I²C address: write it in hex, such as 0x76", s)
	}
	if v < 0x03 || v > 0x77 {
		return 0, fmt.Errorf("%q is outside the 7-bit I²C addresses a device may have (0x03 to 0x77)", s)
	}
	return uint16(v), nil
}

func addrList(as []uint16) string {
	var ss []string
	for _, a := range as {
		ss = append(ss, fmt.Sprintf("%#02x", a))
	}
	return strings.Join(ss, ", ")
}

// parsePin reads a GPIO pin: a number is a BCM GPIO number ("17" is
// "GPIO17"); a name is kept as periph's gpioreg knows it.
func parsePin(s string) (string, error) {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 0 || n > 53 {
			return "", fmt.Errorf("%d is not a Raspberry Pi GPIO (0..27 on the header, BCM numbering)", n)
		}
		return "GPIO" + strconv.Itoa(n), nil
	}
	if !reading.ValidID(s) {
		return "", fmt.Errorf("%q is not a pin name: give GPIO17 or 17 (BCM numbering, not the header's pin number)", s)
	}
	return s, nil
}

// validW1ID reports whether id is a DS18B20's 1-wire slave id: family 28,
// a dash, 12 lower-case hex digits.
func validW1ID(id string) bool {
	rest, ok := strings.CutPrefix(id, "28-")
	if !ok || len(rest) != 12 {
		return false
	}
	for _, r := range rest {
		if !strings.ContainsRune("0123456789abcdef", r) {
			return false
		}
	}
	return true
}

// gpioPull is the pull resistor the spec asks for (PullNoChange: the
// driver's default, a pull-up).
func (s spec) gpioPull() gpio.Pull {
	switch s.pull {
	case "up":
		return gpio.PullUp
	case "down":
		return gpio.PullDown
	case "none":
		return gpio.Float
	}
	return gpio.PullNoChange
}

// orList writes "a, b or c".
func orList(ss []string) string {
	if len(ss) < 2 {
		return strings.Join(ss, "")
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}
