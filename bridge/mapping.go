package bridge

import (
	"cmp"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/mqttwire"
	"github.com/tributary-iot/tributary/reading"
)

// Formats of foreign messages a Mapping can read.
const (
	// FormatSenML is SenML JSON (RFC 8428): an array of records with base
	// name, time, unit and value (bn, bt, bu, bv) resolved as the RFC says,
	// names n, units u, values v or vb (true is 1), and times t (absolute
	// seconds since 1970, or relative to now below 2^28).
	FormatSenML = "senml"
	// FormatFlat is one JSON object whose leaves are values, as
	// Zigbee2MQTT ({"temperature":21.3,"humidity":40,"linkquality":120})
	// and Tasmota ({"Time":"2026-11-27T06:00:00","AM2301":{"Temperature":21.3}})
	// publish: nested objects are flattened by path, joined with "."
	// ("AM2301.Temperature"), array elements by index ("a.0").
	FormatFlat = "flat"
)

// A Mapping turns messages of a foreign format on the topics its filter
// matches into readings. The zero value is not valid: Topic, Format,
// Sensor, Fields and one of Device or DeviceLevel are required.
//
// Such devices number nothing, so the bridge gives their readings seqs
// from a per-device counter in Redis (store.Store.NextSeqs). That makes
// this path at-least-once, not exactly-once: the message carries no
// identity of its own (MQTT packet ids are reused, and two messages may
// have the same content), so when a bridge stores a message and dies (or
// loses the broker) before its acknowledgement reaches the broker, the
// broker delivers it again and it is stored again under new seqs. Messages
// retried inside one bridge (Redis failing) keep their seqs and are
// stored once.
type Mapping struct {
	// Name labels the mapping in metrics and logs. Default: Topic.
	Name string `yaml:"name"`
	// Topic is an MQTT topic filter ("zigbee2mqtt/+", "tele/+/SENSOR"),
	// subscribed with QoS 1 (shared under Options.Group). It may not match
	// Tributary's own topics. The first mapping whose filter matches a
	// message's topic takes it.
	Topic string `yaml:"topic"`
	// Format is FormatSenML or FormatFlat.
	Format string `yaml:"format"`
	// Device is the fixed device id of every reading; or
	Device string `yaml:"device"`
	// DeviceLevel is the topic level (1 = first) holding the device id: 2
	// for "zigbee2mqtt/+" or "tele/+/SENSOR". A topic whose level is not a
	// valid device id is dead-lettered (reason "bad_topic").
	DeviceLevel int `yaml:"device_level"`
	// DevicePrefix is put before the device id ("z2m-"), to keep foreign
	// devices apart from each other and from Tributary agents. Default "".
	DevicePrefix string `yaml:"device_prefix"`
	// Sensor is the sensor id of the readings (a Field may override it).
	Sensor string `yaml:"sensor"`
	// Fields maps a field (a flat path such as "AM2301.Temperature", or a
	// SenML name: the resolved bn+n, or n alone) to a metric and unit.
	// Fields neither here nor in Ignore are ignored and counted
	// (tributary_bridge_ignored_fields_total), not dead-lettered.
	Fields map[string]Field `yaml:"fields"`
	// Ignore lists fields to drop without counting them ("linkquality").
	Ignore []string `yaml:"ignore"`
	// TimeField (flat only) is the path of the field holding the time of
	// the values ("Time" for Tasmota): RFC 3339, or a time without zone
	// (in TimeZone), or a number of seconds (milliseconds above 10^12)
	// since 1970. Default none: arrival time.
	TimeField string `yaml:"time_field"`
	// TimeZone (an IANA name, "Europe/Berlin") is where zone-less times
	// are read. Default UTC.
	TimeZone string `yaml:"time_zone"`
}

// Field says what a field of a foreign message measures, and how its
// value becomes the reading's (see value.go):
//
//   - a JSON boolean (SenML vb) is Values["true"] or Values["false"], or 1
//     for true and 0 for false when Values has neither;
//   - a string (SenML vs) is Values[s], or else read as a number ("21.5"),
//     or else ignored (and counted);
//   - a number (and a string read as one) is stored as raw*Scale + Offset,
//     converted from the unit the payload states (UnitField, SenML u/bu),
//     if any, to Unit.
//
// Values taken from Values state their meaning already: neither scaled
// nor converted.
type Field struct {
	// Metric is the reading's metric (lower case, digits, '_').
	Metric string `yaml:"metric"`
	// Unit is the reading's unit, stored as its UCUM code: a spelling the
	// table of package reading/unit knows ("C", "°C", "%RH", "mmHg",
	// "ppm") is normalised when the mapping is compiled ("Cel", "%",
	// "mm[Hg]", "[ppm]"). A unit the table does not know is stored as
	// written and never converted: a payload unit must then be spelled
	// the same. Required for flat formats. For SenML it may be left out:
	// the record's own unit (u, or bu), normalised, is stored, or "1" when
	// the record has none.
	Unit string `yaml:"unit"`
	// Sensor overrides Mapping.Sensor for this field.
	Sensor string `yaml:"sensor"`
	// Values maps string values and the JSON booleans, as the keys "true"
	// and "false", to numbers: {"ON": 1, "OFF": 0}, or {true: 0, false: 1}
	// for a Zigbee2MQTT contact (true is closed; YAML may write the keys
	// unquoted). Give both booleans or neither.
	Values map[string]float64 `yaml:"values"`
	// Scale multiplies a numeric value (tenths to units: 0.1). Default (0
	// or absent) 1.
	Scale float64 `yaml:"scale"`
	// Offset is added to a numeric value after Scale. Default 0.
	Offset float64 `yaml:"offset"`
	// UnitField (flat only) is the flat path of the field saying the unit
	// of this field's value in the payload: "TempUnit" for Tasmota's
	// temperatures ("C" or "F"), "PressureUnit" for its pressures ("hPa",
	// "mmHg", "inHg"). The value is converted from that unit to Unit where
	// the conversion is exact (see package reading/unit), and the message
	// dead-lettered (reason "unit") where it is not. A message without the
	// field is taken to be in Unit. The unit field itself is never counted
	// as ignored.
	UnitField string `yaml:"unit_field"`
}

// Times of a foreign message are used when they are within this window of
// its arrival; otherwise (a device without a set clock) arrival time is.
const (
	MaxTimeAhead  = 10 * time.Minute
	MaxTimeBehind = 30 * 24 * time.Hour
)

// Errors of decoding a foreign message, mapped to dead-letter reasons.
var (
	errMalformed = errors.New("malformed")
	errInvalid   = errors.New("invalid")
	errUnit      = errors.New("unit") // a payload's unit that cannot be converted to the field's
)

// mapper is a validated Mapping.
type mapper struct {
	Mapping
	levels []string
	loc    *time.Location
	ignore map[string]bool
	// unitFields are the flat paths that Fields' UnitField name.
	unitFields map[string]bool
}

func compileMapping(m Mapping) (*mapper, error) {
	if m.Name == "" {
		m.Name = m.Topic
	}
	c := &mapper{Mapping: m, loc: time.UTC, ignore: map[string]bool{}}
	if err := validFilter(m.Topic); err != nil {
		return nil, err
	}
	c.levels = strings.Split(m.Topic, "/")
	for _, t := range []string{mqttwire.ReadingsTopic("d"), mqttwire.StatusTopic("d")} {
		if matchFilter(c.levels, t) {
			return nil, fmt.Errorf("topic %q matches Tributary's own topics (%s)", m.Topic, t)
		}
	}
	switch m.Format {
	case FormatSenML, FormatFlat:
	case "":
		return nil, fmt.Errorf("format: missing (%s or %s)", FormatSenML, FormatFlat)
	default:
		return nil, fmt.Errorf("format %q: want %s or %s", m.Format, FormatSenML, FormatFlat)
	}
	switch {
	case (m.Device == "") == (m.DeviceLevel == 0):
		return nil, errors.New("give one of device (a fixed id) and device_level (the topic level holding it)")
	case m.Device != "" && !reading.ValidID(m.DevicePrefix+m.Device):
		return nil, fmt.Errorf("device %q is not a valid device id", m.DevicePrefix+m.Device)
	case m.DeviceLevel < 0 || m.DeviceLevel > len(c.levels) || m.DeviceLevel > 0 && c.levels[m.DeviceLevel-1] == "#":
		return nil, fmt.Errorf("device_level %d: topic %q has no single level there", m.DeviceLevel, m.Topic)
	case !reading.ValidID(m.Sensor):
		return nil, fmt.Errorf("sensor %q is not a valid sensor id", m.Sensor)
	case len(m.Fields) == 0:
		return nil, errors.New("fields: none; map at least one field to a metric")
	case m.TimeField != "" && m.Format != FormatFlat:
		return nil, errors.New("time_field is for the flat format (SenML carries its own times)")
	}
	if m.TimeZone != "" {
		loc, err := time.LoadLocation(m.TimeZone)
		if err != nil {
			return nil, fmt.Errorf("time_zone %q: %v", m.TimeZone, err)
		}
		c.loc = loc
	}
	fields := make(map[string]Field, len(m.Fields))
	unitFields := map[string]bool{}
	for _, name := range sortedKeys(m.Fields) {
		f, err := compileField(m.Format, m.Fields[name])
		if err != nil {
			return nil, fmt.Errorf("fields %q: %v", name, err)
		}
		probe := reading.Reading{Device: "d", Sensor: cmp.Or(f.Sensor, m.Sensor), Metric: f.Metric, Unit: cmp.Or(f.Unit, "1"), Time: time.Unix(1e9, 0), Seq: 1}
		if err := probe.Validate(); err != nil {
			return nil, fmt.Errorf("fields %q: %v", name, err)
		}
		if m.Format == FormatFlat && f.Unit == "" {
			return nil, fmt.Errorf("fields %q: unit missing (a flat message carries none)", name)
		}
		if f.UnitField != "" {
			if _, ok := m.Fields[f.UnitField]; ok {
				return nil, fmt.Errorf("fields %q: unit_field %q is a mapped field itself", name, f.UnitField)
			}
			unitFields[f.UnitField] = true
		}
		fields[name] = f
	}
	c.Fields, c.unitFields = fields, unitFields
	for _, f := range m.Ignore {
		if _, ok := m.Fields[f]; ok {
			return nil, fmt.Errorf("ignore %q: also in fields", f)
		}
		c.ignore[f] = true
	}
	return c, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// validFilter checks an MQTT topic filter: '+' and '#' only as whole
// levels, '#' only last, no shared-subscription or system prefix.
func validFilter(f string) error {
	if f == "" {
		return errors.New("topic: missing")
	}
	if strings.HasPrefix(f, "$") {
		return fmt.Errorf("topic %q: $ topics are the broker's (the bridge adds $share itself with a group)", f)
	}
	levels := strings.Split(f, "/")
	for i, l := range levels {
		if strings.ContainsAny(l, "+#") && len(l) > 1 {
			return fmt.Errorf("topic %q: wildcards %q must fill a whole level", f, l)
		}
		if l == "#" && i != len(levels)-1 {
			return fmt.Errorf("topic %q: '#' must be the last level", f)
		}
	}
	return nil
}

// matchFilter reports whether topic matches the filter split in levels.
func matchFilter(levels []string, topic string) bool {
	if strings.HasPrefix(topic, "$") {
		return false // wildcards never match $ topics
	}
	for i, l := range levels {
		if l == "#" {
			return true
		}
		seg, rest, more := strings.Cut(topic, "/")
		if l != "+" && l != seg {
			return false
		}
		if !more {
			return i == len(levels)-1 || (i == len(levels)-2 && levels[i+1] == "#")
		}
		topic = rest
	}
	return false
}

// device returns the device id of a message on topic.
func (m *mapper) device(topic string) (string, error) {
	id := m.Device
	if m.DeviceLevel > 0 {
		levels := strings.Split(topic, "/")
		if m.DeviceLevel > len(levels) {
			return "", fmt.Errorf("topic %q has no level %d", topic, m.DeviceLevel)
		}
		id = levels[m.DeviceLevel-1]
	}
	id = m.DevicePrefix + id
	if !reading.ValidID(id) {
		return "", fmt.Errorf("device %q from topic %q is not a valid device id", id, topic)
	}
	return id, nil
}

// decoded is what a mapping makes of one message: readings without seqs
// (Seq 0), and how many fields it ignored.
type decoded struct {
	readings []reading.Reading
	ignored  int
}

// decode turns payload into readings of device. Errors wrap errMalformed,
// errInvalid or errUnit.
func (m *mapper) decode(device string, payload []byte, arrival time.Time) (decoded, error) {
	var d decoded
	var err error
	switch m.Format {
	case FormatSenML:
		d, err = m.decodeSenML(device, payload, arrival)
	default:
		d, err = m.decodeFlat(device, payload, arrival)
	}
	if err != nil {
		return decoded{}, err
	}
	for i := range d.readings {
		r := d.readings[i]
		r.Seq = 1 // assigned later
		if err := r.Validate(); err != nil {
			return decoded{}, fmt.Errorf("%w: %v", errInvalid, err)
		}
	}
	return d, nil
}

// reading makes a reading of field f.
func (m *mapper) reading(device string, f Field, v float64, unit string, t time.Time) reading.Reading {
	return reading.Reading{Device: device, Sensor: cmp.Or(f.Sensor, m.Sensor), Metric: f.Metric, Value: v, Unit: unit, Time: t.UTC().Truncate(time.Millisecond)}
}

// saneTime returns t if it is within the window around arrival, else
// arrival.
func saneTime(t, arrival time.Time) time.Time {
	if t.IsZero() || t.After(arrival.Add(MaxTimeAhead)) || t.Before(arrival.Add(-MaxTimeBehind)) {
		return arrival
	}
	return t
}
