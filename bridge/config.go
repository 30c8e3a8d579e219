package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"

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
	names := map[string]int{}
	for i, m := range f.Mappings {
		c, err := compileMapping(m)
		at := yamlconf.Line(&root, "mappings", strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("line %d: mappings[%d]: %w", at, i, err)
		}
		if prev, dup := names[c.Name]; dup {
			return nil, fmt.Errorf("line %d: mappings[%d]: name %q already used by mappings[%d]", at, i, c.Name, prev)
		}
		names[c.Name] = i
	}
	return f.Mappings, nil
}
