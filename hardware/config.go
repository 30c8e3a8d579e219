package hardware

import (
	"cmp"
	"fmt"
	"strconv"
	"time"

	"github.com/tributary-iot/tributary/reading"
)

// SensorConfig is one sensor of a configuration, as written (the yaml
// tags are its keys in edge's file). Which keys a sensor takes besides
// name, driver, interval and fallback depends on its driver: see Validate.
type SensorConfig struct {
	Name     string        `yaml:"name"`
	Driver   string        `yaml:"driver"`
	Interval time.Duration `yaml:"interval"`
	// Timeout bounds one read; default 0: the agent's (the longer of 5s
	// and the interval). A read past it is abandoned and counted as a
	// timeout.
	Timeout time.Duration `yaml:"timeout"`
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

// MinTimeout is the shortest read timeout accepted: shorter than a BME280
// conversion at 16x oversampling, every read would time out.
const MinTimeout = 100 * time.Millisecond

// MinInterval is the shortest sampling interval accepted: faster than
// this a sensor would flood the uplink (and no supported chip converts
// faster).
const MinInterval = 10 * time.Millisecond

// A ConfigError is a mistake in one sensor (actuator, interlock) of a
// list: "sensors[3].address: 0x75: a bme280 answers only at 0x76, 0x77".
type ConfigError struct {
	// List is the list the mistake is in: "" or "sensors", "actuators",
	// "interlocks".
	List  string
	Index int    // the sensor's (actuator's, interlock's), in the list
	Key   string // the key it is about: "address"
	// Whole: the mistake is the sensor's (a key missing, a name taken),
	// not the value written at Key.
	Whole bool
	Msg   string
}

func (e *ConfigError) Error() string {
	list := cmp.Or(e.List, "sensors")
	if e.Key == "" {
		return fmt.Sprintf("%s[%d]: %s", list, e.Index, e.Msg)
	}
	if _, err := strconv.Atoi(e.Key); err == nil { // a position: interlocks[0][1]
		return fmt.Sprintf("%s[%d][%s]: %s", list, e.Index, e.Key, e.Msg)
	}
	return fmt.Sprintf("%s[%d].%s: %s", list, e.Index, e.Key, e.Msg)
}

// Path is where the mistake is in the file, as keys and indexes
// ("actuators", "2", "pin"), for its line number.
func (e *ConfigError) Path() []string {
	path := []string{cmp.Or(e.List, "sensors"), strconv.Itoa(e.Index)}
	if !e.Whole && e.Key != "" {
		path = append(path, e.Key)
	}
	return path
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
