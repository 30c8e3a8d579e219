package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/tributary-iot/tributary/internal/yamlconf"
)

// mappingsFile is the YAML file of mappings; see testdata/mappings.yaml.
type mappingsFile struct {
	Mappings []Mapping `yaml:"mappings"`
}

// LoadMappings reads a YAML file of mappings (see ParseMappings). Both
// binaries that run a bridge (cmd/bridge, cmd/cloud) read it through here.
func LoadMappings(path string) ([]Mapping, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("mappings: %w", err)
	}
	ms, err := ParseMappings(data)
	if err != nil {
		return nil, fmt.Errorf("mappings %s: %w", path, err)
	}
	return ms, nil
}

// ParseMappings parses and checks a YAML document of the form
//
//	mappings:
//	  - name: zigbee
//	    topic: zigbee2mqtt/+
//	    format: flat
//	    device_level: 2
//	    device_prefix: z2m-
//	    sensor: zigbee
//	    fields:
//	      temperature: {metric: temperature, unit: Cel}
//	    ignore: [linkquality]
//
// strictly: an unknown key is an error, and every error names its line.
func ParseMappings(data []byte) ([]Mapping, error) {
	var f mappingsFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) {
		return nil, errors.New(yamlconf.PlainError(err.Error(), ""))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	if _, err := compileMappings(f.Mappings); err != nil {
		var me *mappingError
		if errors.As(err, &me) {
			return nil, fmt.Errorf("line %d: mappings[%d]: %w", yamlconf.Line(&root, "mappings", strconv.Itoa(me.index)), me.index, me.err)
		}
		return nil, err
	}
	return f.Mappings, nil
}

// A mappingError is what is wrong with the mapping at index of a list.
type mappingError struct {
	index int
	err   error
}

func (e *mappingError) Error() string { return fmt.Sprintf("mappings[%d]: %v", e.index, e.err) }
func (e *mappingError) Unwrap() error { return e.err }

// compileMappings compiles a list of mappings, in order, and checks them
// together: their names are unique, and no two mappings can make the same
// device id (see overlap), so that a foreign device never writes into the
// history of another mapping's device. An error is a *mappingError at the
// later of the mappings in conflict, naming the other.
func compileMappings(ms []Mapping) ([]*mapper, error) {
	cs := make([]*mapper, 0, len(ms))
	for i, m := range ms {
		c, err := compileMapping(m)
		if err != nil {
			return nil, &mappingError{i, err}
		}
		for j, prev := range cs {
			if prev.Name == c.Name {
				return nil, &mappingError{i, fmt.Errorf("name %q already used by mappings[%d]", c.Name, j)}
			}
			if err := overlap(prev, c); err != nil {
				return nil, &mappingError{i, err}
			}
		}
		cs = append(cs, c)
	}
	return cs, nil
}

// overlap reports, as an error naming both, whether mappings a and b can
// make the same device id. A mapping with DeviceLevel makes the ids
// DevicePrefix + a name (never empty); one with Device makes the one id
// DevicePrefix + Device. Two ids prefix+name are the same only when one
// prefix begins the other (both begin the id), so the id spaces are apart
// exactly when: no prefix of a DeviceLevel mapping begins another's (equal
// included), no fixed id begins with such a prefix, and no two fixed ids
// are equal.
func overlap(a, b *mapper) error {
	const fix = "give each mapping its own device_prefix, none the beginning of another's, and no fixed device starting with one (bridge/README.md, \"Device ids are namespaced\")"
	switch {
	case a.DeviceLevel > 0 && b.DeviceLevel > 0:
		p, q := a, b
		if len(q.DevicePrefix) < len(p.DevicePrefix) {
			p, q = q, p
		}
		if !strings.HasPrefix(q.DevicePrefix, p.DevicePrefix) {
			return nil
		}
		if p.DevicePrefix == q.DevicePrefix {
			return fmt.Errorf("device ids overlap: mappings %q and %q both have device_prefix %q, so a device name on one's topics makes the same id as on the other's; %s",
				a.Name, b.Name, p.DevicePrefix, fix)
		}
		return fmt.Errorf("device ids overlap: device_prefix %q of mapping %q begins device_prefix %q of mapping %q, so every id of %q could also come from %q; %s",
			p.DevicePrefix, p.Name, q.DevicePrefix, q.Name, q.Name, p.Name, fix)
	case a.DeviceLevel > 0 || b.DeviceLevel > 0:
		p, f := a, b // p takes ids from the topic, f has a fixed id
		if p.DeviceLevel == 0 {
			p, f = f, p
		}
		if id := f.DevicePrefix + f.Device; strings.HasPrefix(id, p.DevicePrefix) {
			return fmt.Errorf("device ids overlap: device %q of mapping %q begins with device_prefix %q of mapping %q, whose ids are that prefix and a device name from the topic; %s",
				id, f.Name, p.DevicePrefix, p.Name, fix)
		}
	default:
		if id := a.DevicePrefix + a.Device; id == b.DevicePrefix+b.Device {
			return fmt.Errorf("device ids overlap: mappings %q and %q both have device %q; give each its own device, or map the device's topics with one mapping (a wider topic, with exclude) (bridge/README.md, \"Device ids are namespaced\")",
				a.Name, b.Name, id)
		}
	}
	return nil
}
