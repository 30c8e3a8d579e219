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
// Sensor, Fields and one of Device or DeviceLevel (with DevicePrefix) are
// required.
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
	// Tributary's own topics. The first mapping that takes a message's
	// topic (its filter matches, and no Exclude pattern does) gets it.
	Topic string `yaml:"topic"`
	// Format is FormatSenML or FormatFlat.
	Format string `yaml:"format"`
	// Device is the fixed device id of every reading; or
	Device string `yaml:"device"`
	// DeviceLevel is the topic level (1 = first) holding the device name:
	// 2 for "zigbee2mqtt/+" or "tele/+/SENSOR". Where that level of Topic
	// is "#" ("zigbee2mqtt/#"), the name is every level from there on,
	// joined by "/" ("kitchen/lamp" from "zigbee2mqtt/kitchen/lamp"): the
	// way to take names that contain "/" (Zigbee2MQTT friendly names),
	// with Exclude to leave the other topics under the filter out. The
	// name becomes the device id by DeviceNames.
	DeviceLevel int `yaml:"device_level"`
	// DevicePrefix is put before the device id ("z2m-"), to keep foreign
	// devices apart from each other and from Tributary agents. Required
	// with DeviceLevel (a device on the broker chooses its topic, so
	// without a prefix it could choose an agent's id or another mapping's
	// device); optional with Device. Within a list of mappings no two
	// mappings' ids may meet: the prefix of a DeviceLevel mapping may not
	// begin another's (equal included), and a Device (with its prefix) may
	// neither begin with such a prefix nor equal another mapping's (see
	// overlap). There is no opt-out (bridge/README.md says why). Whatever
	// the prefix, a message whose device id has recorded boots (a Tributary
	// agent's) is dead-lettered (reason "bad_device_name").
	DevicePrefix string `yaml:"device_prefix"`
	// DeviceNames says how a name from the topic becomes a device id:
	// DeviceNamesStrict (default) takes it as it is, and dead-letters a
	// message whose name is not a valid id (reason "bad_device_name",
	// naming it); DeviceNamesSlug maps every name to an id by the rule of
	// Slug (deterministic, and two names never give the same id).
	DeviceNames string `yaml:"device_names"`
	// Exclude lists topic patterns this mapping leaves out although Topic
	// matches them: MQTT filter syntax, where "#" may also stand inside a
	// pattern, for any number of levels (none included). Zigbee2MQTT's own
	// topics under "zigbee2mqtt/#": "zigbee2mqtt/bridge/#",
	// "zigbee2mqtt/#/availability", "zigbee2mqtt/#/set/#",
	// "zigbee2mqtt/#/get/#". The next mapping whose Topic matches may take
	// such a message; if none does, it is acknowledged and dropped, counted
	// in tributary_bridge_messages_received_total{kind="excluded"} (not a
	// dead letter). Default none.
	Exclude []string `yaml:"exclude"`
	// Times says what to do with a message whose times fall outside the
	// window MaxTimeBehind..MaxTimeAhead around its arrival (a device
	// whose clock is not set): TimesRestamp (default) shifts all its
	// readings by one offset so that the newest is stamped with the
	// arrival time, keeping their spacing, and counts them in
	// tributary_bridge_restamped_readings_total{mapping}; TimesRefuse
	// dead-letters the message (reason "time"). A message spread over
	// more than MaxTimeBehind is dead-lettered either way. Readings are
	// never collapsed onto one instant.
	Times string `yaml:"times"`
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
	// the values ("Time" for Tasmota, "last_seen" for Zigbee2MQTT with
	// last_seen enabled, "params.ts" for Shelly): RFC 3339, or a time
	// without zone (in TimeZone), or a number of seconds (milliseconds
	// above 10^12) since 1970. A message without it, or with one that is
	// none of these, is stamped with its arrival time. Default none:
	// arrival time.
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
// its arrival; otherwise Mapping.Times says what happens. The window ahead
// is narrower where the store's MaxFuture (the cloud's --max-future) is.
const (
	MaxTimeAhead  = 10 * time.Minute
	MaxTimeBehind = 30 * 24 * time.Hour
)

// Values of Mapping.Times.
const (
	TimesRestamp = "restamp"
	TimesRefuse  = "refuse"
)

// Values of Mapping.DeviceNames.
const (
	DeviceNamesStrict = "strict"
	DeviceNamesSlug   = "slug"
)

// Errors of decoding a foreign message, mapped to dead-letter reasons.
var (
	errMalformed = errors.New("malformed")
	errTooLarge  = errors.New("too large") // ReasonTooLarge
	errInvalid   = errors.New("invalid")
	errUnit      = errors.New("unit")            // a payload's unit that cannot be converted to the field's
	errTime      = errors.New("time")            // ReasonTime
	errName      = errors.New("bad device name") // ReasonBadDeviceName
)

// mapper is a validated Mapping.
type mapper struct {
	Mapping
	levels  []string
	exclude [][]string // Exclude, split in levels
	loc     *time.Location
	ignore  map[string]bool
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
	case m.DeviceLevel < 0 || m.DeviceLevel > len(c.levels):
		return nil, fmt.Errorf("device_level %d: topic %q has no level there", m.DeviceLevel, m.Topic)
	case m.DeviceLevel > 0 && m.DevicePrefix == "":
		return nil, errors.New(`device_prefix: missing; a mapping that takes device ids from the topic (device_level) needs one ("z2m-", "tasmota-"), ` +
			`else a device on the broker could publish as a Tributary agent or as another mapping's device (bridge/README.md, "Device ids are namespaced")`)
	case !reading.ValidID(m.Sensor):
		return nil, fmt.Errorf("sensor %q is not a valid sensor id", m.Sensor)
	case len(m.Fields) == 0:
		return nil, errors.New("fields: none; map at least one field to a metric")
	case m.TimeField != "" && m.Format != FormatFlat:
		return nil, errors.New("time_field is for the flat format (SenML carries its own times)")
	}
	switch m.Times {
	case "", TimesRestamp, TimesRefuse:
	default:
		return nil, fmt.Errorf("times %q: want %s or %s", m.Times, TimesRestamp, TimesRefuse)
	}
	switch m.DeviceNames {
	case "", DeviceNamesStrict, DeviceNamesSlug:
	default:
		return nil, fmt.Errorf("device_names %q: want %s or %s", m.DeviceNames, DeviceNamesStrict, DeviceNamesSlug)
	}
	if m.DevicePrefix != "" && !reading.ValidID(m.DevicePrefix) {
		return nil, fmt.Errorf("device_prefix %q: use letters, digits, '.', '_' and '-', starting with a letter or digit", m.DevicePrefix)
	}
	for _, x := range m.Exclude {
		if err := validPattern(x); err != nil {
			return nil, fmt.Errorf("exclude: %w", err)
		}
		c.exclude = append(c.exclude, strings.Split(x, "/"))
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

// validPattern checks an Exclude pattern: a topic filter in which '#' may
// also stand inside.
func validPattern(p string) error {
	if p == "" {
		return errors.New("empty pattern")
	}
	for _, l := range strings.Split(p, "/") {
		if strings.ContainsAny(l, "+#") && len(l) > 1 {
			return fmt.Errorf("pattern %q: wildcards %q must fill a whole level", p, l)
		}
	}
	return nil
}

// matchPattern reports whether the topic's levels match the pattern's,
// where "#" stands for any number of levels (none included), anywhere.
func matchPattern(pattern, topic []string) bool {
	for len(pattern) > 0 {
		switch p := pattern[0]; p {
		case "#":
			for i := 0; i <= len(topic); i++ {
				if matchPattern(pattern[1:], topic[i:]) {
					return true
				}
			}
			return false
		default:
			if len(topic) == 0 || p != "+" && p != topic[0] {
				return false
			}
		}
		pattern, topic = pattern[1:], topic[1:]
	}
	return len(topic) == 0
}

// takes reports whether the mapping takes a message on topic: its filter
// matches, and no Exclude pattern does. excluded reports a topic the
// filter matches and an Exclude pattern leaves out.
func (m *mapper) takes(topic string) (ok, excluded bool) {
	if !matchFilter(m.levels, topic) {
		return false, false
	}
	if len(m.exclude) > 0 {
		levels := strings.Split(topic, "/")
		for _, x := range m.exclude {
			if matchPattern(x, levels) {
				return false, true
			}
		}
	}
	return true, false
}

// device returns the device id of a message on topic; an error wraps
// errName when the name the topic gives makes no valid id.
func (m *mapper) device(topic string) (string, error) {
	if m.DeviceLevel == 0 {
		return m.DevicePrefix + m.Device, nil
	}
	levels := strings.Split(topic, "/")
	if m.DeviceLevel > len(levels) {
		return "", fmt.Errorf("%w: topic %q has no level %d", errName, topic, m.DeviceLevel)
	}
	name := levels[m.DeviceLevel-1]
	if m.levels[m.DeviceLevel-1] == "#" {
		name = strings.Join(levels[m.DeviceLevel-1:], "/")
	}
	if name == "" {
		return "", fmt.Errorf("%w: topic %q has an empty device name at level %d", errName, topic, m.DeviceLevel)
	}
	id := name
	if m.DeviceNames == DeviceNamesSlug {
		id = Slug(name)
	}
	id = m.DevicePrefix + id
	if !reading.ValidID(id) {
		hint := ""
		if m.DeviceNames != DeviceNamesSlug {
			hint = " (device_names: slug maps any name to an id)"
		}
		return "", fmt.Errorf("%w: device name %q from topic %q makes device id %q, not a valid id (letters, digits, '.', '_' and '-', starting with a letter or digit, at most %d bytes)%s",
			errName, name, topic, id, reading.MaxIDLen, hint)
	}
	return id, nil
}

// Slug maps a device name to a device id, for Mapping.DeviceNames
// "slug". Byte by byte, of the name's UTF-8: ASCII letters, digits and
// '-' are kept; '/' becomes '.'; '_' becomes "__"; every other byte
// (space, '.', punctuation, each byte of a non-ASCII letter) becomes '_'
// and its two lower-case hex digits. So "kitchen/floor_light" is
// "kitchen.floor__light", "Living Room" is "Living_20Room", "Küche" is
// "K_c3_bcche". The rule is deterministic and reversible (a '.' of a slug
// stands for '/', a '_' starts "__" or an escape of two hex digits), so
// two names never give the same slug. A slug that makes no valid id with
// the mapping's device prefix (over 64 bytes together) is dead-lettered,
// never cut.
func Slug(name string) string {
	var b strings.Builder
	b.Grow(len(name))
	const hex = "0123456789abcdef"
	for i := 0; i < len(name); i++ {
		c := name[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-':
			b.WriteByte(c)
		case c == '/':
			b.WriteByte('.')
		case c == '_':
			b.WriteString("__")
		default:
			b.WriteByte('_')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	return b.String()
}

// decoded is what a mapping makes of one message: readings without seqs
// (Seq 0), how many fields it ignored, and how many readings it
// restamped.
type decoded struct {
	readings  []reading.Reading
	ignored   int
	restamped int
}

// decodeAhead turns payload into readings of device, with times accepted
// up to ahead (at most MaxTimeAhead) after arrival: the bridge narrows it
// to the store's MaxFuture, so that readings the store would refuse as
// stamped too far ahead are restamped (or refused, with a dead letter)
// here instead. Errors wrap errMalformed, errTooLarge, errInvalid, errUnit
// or errTime.
func (m *mapper) decodeAhead(device string, payload []byte, arrival time.Time, ahead time.Duration) (decoded, error) {
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
	if d.restamped, err = m.stamp(d.readings, arrival, ahead); err != nil {
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

// stamp applies Mapping.Times to the readings of one message, whose
// times the decoders set (the zero time: none, arrival time is used). It
// returns how many readings it restamped; an error wraps errTime.
func (m *mapper) stamp(rs []reading.Reading, arrival time.Time, ahead time.Duration) (int, error) {
	arrival = arrival.UTC().Truncate(time.Millisecond)
	if len(rs) == 0 {
		return 0, nil
	}
	var oldest, newest time.Time
	for i := range rs {
		if rs[i].Time.IsZero() {
			rs[i].Time = arrival
		}
		if t := rs[i].Time; i == 0 || t.Before(oldest) {
			oldest = t
		}
		if t := rs[i].Time; i == 0 || t.After(newest) {
			newest = t
		}
	}
	earliest, latest := arrival.Add(-MaxTimeBehind), arrival.Add(min(ahead, MaxTimeAhead))
	if !oldest.Before(earliest) && !newest.After(latest) {
		return 0, nil
	}
	window := func() string {
		return fmt.Sprintf("times %s to %s outside the window %s to %s (arrival %s)", oldest.Format(reading.TimeLayout), newest.Format(reading.TimeLayout),
			earliest.Format(reading.TimeLayout), latest.Format(reading.TimeLayout), arrival.Format(reading.TimeLayout))
	}
	if m.Times == TimesRefuse {
		return 0, fmt.Errorf("%w: %s; times: refuse", errTime, window())
	}
	if newest.Sub(oldest) > MaxTimeBehind {
		return 0, fmt.Errorf("%w: %s, spread over %s, more than the window behind arrival (%s): cannot restamp them keeping their spacing",
			errTime, window(), newest.Sub(oldest), MaxTimeBehind)
	}
	// Each reading lands its distance from the newest before the arrival.
	// That distance is at most MaxTimeBehind; arrival.Sub(newest) is not
	// bounded, and saturates at about 292 years (a SenML time of 1e11 s is
	// the year 5138), which would leave the readings centuries ahead.
	for i := range rs {
		rs[i].Time = arrival.Add(-newest.Sub(rs[i].Time))
	}
	return len(rs), nil
}
