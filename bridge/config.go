package bridge

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
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
		return nil, errors.New(plainYAMLError(err.Error()))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, err
	}
	names := map[string]int{}
	for i, m := range f.Mappings {
		c, err := compileMapping(m)
		at := lineOf(&root, "mappings", strconv.Itoa(i))
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

// lineOf returns the line of the node at path (mapping keys, or sequence
// indexes in decimal) in the document root, or of the deepest node found.
func lineOf(root *yaml.Node, path ...string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, p := range path {
		switch n.Kind {
		case yaml.MappingNode:
			var next *yaml.Node
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == p {
					next = n.Content[i+1]
				}
			}
			if next == nil {
				return n.Line
			}
			n = next
		case yaml.SequenceNode:
			i, err := strconv.Atoi(p)
			if err != nil || i < 0 || i >= len(n.Content) {
				return n.Line
			}
			n = n.Content[i]
		default:
			return n.Line
		}
	}
	return n.Line
}

var (
	yamlUnknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)
	yamlType       = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into \\S+")
)

// plainYAMLError rewrites the YAML decoder's messages, which speak of Go
// types, in the file's terms.
func plainYAMLError(msg string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	msg = yamlUnknownKey.ReplaceAllString(msg, `unknown key "$1"`)
	return yamlType.ReplaceAllString(msg, `"$2" is the wrong kind of value here ($1)`)
}
