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

// SensorConfig is one sensor of a configuration, as written (the yaml
// tags are its keys in edge's file). Which keys a sensor takes besides
// name, driver, interval and fallback depends on its driver: see Validate.
type SensorConfig struct {
	Name     string        `yaml:"name"`
	Driver   string        `yaml:"driver"`
	Interval time.Duration `yaml:"interval"`
	// Fallback "sim" lets the agent simulate the sensor (the real driver
	// over an emulated chip) when its hardware cannot be opened at start.
	// Default "": the sensor is reported down and retried until it answers.
	Fallback string `yaml:"fallback"`

	// I²C chips.
	Bus     string `yaml:"bus"`     // bus number or name: "1" (default) or "I2C1"
	Address string `yaml:"address"` // 7-bit address in hex: 0x76; default the chip's first
	// StuckAfter is how many identical raw readings in a row make a chip
	// stuck (sensors.ErrStuck); default 300; -1 never (a steady input).
	StuckAfter int `yaml:"stuck_after"`

	// ADS1115.
	Channel  string   `yaml:"channel"`   // "0".."3" against GND, or "0-1", "0-3", "1-3", "2-3"; default "0"
	Metric   string   `yaml:"metric"`    // ads1115: voltage (default) or moisture; gpio-input: state (default), door or motion
	Scale    float64  `yaml:"scale"`     // ads1115 voltage: multiply by (a voltage divider's ratio); default 1
	DryVolts *float64 `yaml:"dry_volts"` // ads1115 moisture: the probe's volts in dry air; default 2.8
	WetVolts *float64 `yaml:"wet_volts"` // ads1115 moisture: the probe's volts in water; default 1.2

	// GPIO inputs.
	Pin      string        `yaml:"pin"`      // "GPIO17", or 17 (BCM numbering)
	Debounce time.Duration `yaml:"debounce"` // ignore changes shorter than this; default per driver
	Pull     string        `yaml:"pull"`     // up (default), down or none
	Invert   bool          `yaml:"invert"`   // gpio-input: report a low pin as 1
	Unit     string        `yaml:"unit"`     // pulse-counter: the unit of one pulse times scale (mm, L); default 1 (pulses)
	RatePer  string        `yaml:"rate_per"` // pulse-counter: the rate's time unit: 1s (default), 1m or 1h

	// DS18B20.
	ID    string `yaml:"id"`     // the probe's 1-wire id, 28-xxxxxxxxxxxx (edge scan lists them); default the only probe
	W1Dir string `yaml:"w1_dir"` // where the kernel lists 1-wire slaves; default /sys/bus/w1/devices
}

// DefaultW1Dir is where the kernel's w1 driver lists 1-wire slaves.
const DefaultW1Dir = "/sys/bus/w1/devices"

// Defaults of the other hardware keys.
const (
	defaultBus  = "1" // the Raspberry Pi's I²C on header pins 3 and 5
	fallbackSim = "sim"
)

// spec is a sensor's configuration checked against its driver, with
// its defaults applied: what opening and emulating the sensor use.
type spec struct {
	name     string
	driver   Driver
	interval time.Duration // 0: the agent's default
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

// MinInterval is the shortest sampling interval accepted: faster than
// this a sensor would flood the uplink (and no supported chip converts
// faster).
const MinInterval = 10 * time.Millisecond

// A ConfigError is a mistake in one sensor of a list: "sensors[3].address:
// 0x75: a bme280 answers only at 0x76, 0x77".
type ConfigError struct {
	Index int    // the sensor's, in the list
	Key   string // the key it is about: "address"
	// Whole: the mistake is the sensor's (a key missing, a name taken),
	// not the value written at Key.
	Whole bool
	Msg   string
}

func (e *ConfigError) Error() string { return fmt.Sprintf("sensors[%d].%s: %s", e.Index, e.Key, e.Msg) }

// spec checks c against d and returns its spec and every mistake found.
// keys are the keys written (nil: those not zero).
func (c SensorConfig) spec(d Driver, keys []string) (spec, []*ConfigError) {
	s := spec{name: c.Name, driver: d, interval: c.Interval}
	var errs []*ConfigError
	bad := func(key, format string, args ...any) {
		errs = append(errs, &ConfigError{Key: key, Msg: fmt.Sprintf(format, args...)})
	}
	if keys == nil {
		keys = c.setKeys()
	}
	common := "name, driver and interval"
	if d.kind() != kindSim {
		common = "name, driver, interval and fallback"
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
	commonKeys = []string{"name", "driver", "interval", "fallback"}
	sensorKeys = []string{"name", "driver", "interval", "fallback", "bus", "address", "stuck_after", "channel", "metric",
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
		{"name", c.Name != ""}, {"driver", c.Driver != ""}, {"interval", c.Interval != 0}, {"fallback", c.Fallback != ""},
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
	if err != nil || v < 0x03 || v > 0x77 {
		return 0, fmt.Errorf("%q is not a 7-bit I²C address: write it in hex, such as 0x76", s)
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

// Validate checks a list of sensors and returns every mistake, in list
// order. written(i) lists the keys the file sets for sensor i (nil: those
// not zero); interval is what a sensor without one gets (0: 1s).
func Validate(cs []SensorConfig, interval time.Duration, written func(i int) []string) []*ConfigError {
	interval = cmp.Or(interval, time.Second) // agent.DefaultInterval
	var errs []*ConfigError
	seen := map[string]string{}
	claims := hwClaims{}
	for i, s := range cs {
		key := fmt.Sprintf("sensors[%d]", i)
		whole := func(k, format string, args ...any) {
			errs = append(errs, &ConfigError{Index: i, Key: k, Whole: true, Msg: fmt.Sprintf(format, args...)})
		}
		d, ok := lookupDriver(s.Driver)
		switch {
		case s.Driver == "":
			whole("driver", "missing (known drivers: %s)", driverNames())
			continue
		case !ok:
			errs = append(errs, &ConfigError{Index: i, Key: "driver", Msg: fmt.Sprintf("%q is not a known driver (known: %s)", s.Driver, driverNames())})
			continue
		}
		switch {
		case s.Name == "" && !d.set():
			whole("name", "missing")
		case s.Name != "" && !reading.ValidID(s.Name):
			errs = append(errs, &ConfigError{Index: i, Key: "name", Msg: fmt.Sprintf("%q is not a valid sensor id (letters, digits, '.', '_' or '-', starting with a letter or digit)", s.Name)})
		}
		var keys []string
		if written != nil {
			keys = written(i)
		}
		sp, ferrs := s.spec(d, keys)
		if s.Interval == 0 && interval < d.minInterval && interval >= MinInterval {
			whole("interval", "the default %v is shorter than one %s measurement (%v): give this sensor an interval of at least that", interval, d.Name, d.minInterval)
		}
		for _, fe := range ferrs {
			fe.Index = i
			errs = append(errs, fe)
		}
		// Two sensors on one chip or pin: only an ADC's channels share.
		if field, msg := claims.take(key, sp); msg != "" {
			errs = append(errs, &ConfigError{Index: i, Key: field, Msg: msg})
		}
		for _, n := range d.names(s.Name) {
			if prev, dup := seen[n]; dup {
				whole("name", "sensor %q already defined by %s", n, prev)
			}
			seen[n] = key
		}
	}
	return errs
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

// hwClaims are the chips, ADC channels, pins and probes sensors use, each
// by the key of the first sensor using it (and its driver, for chips).
type hwClaims map[string][2]string

// take claims what sp uses for the sensor at key; it returns the key of
// what is already another's, and a message saying so, or "", "".
func (c hwClaims) take(key string, sp spec) (field, msg string) {
	var place, what string
	switch {
	case sp.driver.kind() == kindI2C && sp.addr != 0:
		place, field, what = fmt.Sprintf("i2c %s %#02x", busKey(sp.bus), sp.addr), "address", fmt.Sprintf("%#02x on bus %s", sp.addr, sp.bus)
		if prev, ok := c[place]; ok && (prev[1] != "ads1115" || sp.driver.Name != "ads1115") {
			return field, fmt.Sprintf("%s is already %s's (a %s)", what, prev[0], prev[1])
		}
		c[place] = [2]string{key, sp.driver.Name}
		if sp.driver.Name != "ads1115" || sp.channel < 0 {
			return "", ""
		}
		place, field, what = place+" channel "+sp.channel.String(), "channel", sp.channel.String()+" of the ADS1115 at "+fmt.Sprintf("%#02x", sp.addr)
	case sp.driver.kind() == kindGPIO && sp.pin != "":
		place, field, what = "pin "+sp.pin, "pin", sp.pin
	case sp.driver.kind() == kind1Wire && sp.id != "":
		place, field, what = "w1 "+sp.id, "id", sp.id
	default:
		return "", ""
	}
	if prev, ok := c[place]; ok {
		return field, fmt.Sprintf("%s is already %s's", what, prev[0])
	}
	c[place] = [2]string{key, sp.driver.Name}
	return "", ""
}

// orList writes "a, b or c".
func orList(ss []string) string {
	if len(ss) < 2 {
		return strings.Join(ss, "")
	}
	return strings.Join(ss[:len(ss)-1], ", ") + " or " + ss[len(ss)-1]
}
