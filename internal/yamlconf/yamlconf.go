// Package yamlconf holds what Tributary's strict YAML files (the edge
// agent's configuration, the bridge's mappings) share: line numbers for
// their errors, and the decoder's messages put in the file's terms rather
// than Go's.
package yamlconf

import (
	"regexp"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Line returns the line of the node at path (mapping keys, or sequence
// indexes in decimal) in the document root: for a scalar, the line of its
// key; where the path leaves the document, the line of the deepest node
// found; 0 for an empty document.
func Line(root *yaml.Node, path ...string) int {
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
					if next.Kind == yaml.ScalarNode {
						next = n.Content[i] // the key's line reads better
					}
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
	unknownKey = regexp.MustCompile(`field (\S+) not found in type \S+`)
	duration   = regexp.MustCompile("cannot unmarshal !!\\w+ `([^`]*)` into time.Duration")
	wrongType  = regexp.MustCompile("cannot unmarshal !!(\\w+) `([^`]*)` into \\S+")
)

// PlainError rewrites one of the YAML decoder's messages, which speak of Go
// types, in the file's terms. keysHint, if not empty, follows an unknown
// key ("see edge.example.yaml for the keys").
func PlainError(msg, keysHint string) string {
	msg = strings.TrimPrefix(msg, "yaml: ")
	msg = strings.ReplaceAll(msg, "unmarshal errors:\n  ", "")
	unknown := `unknown key "$1"`
	if keysHint != "" {
		unknown += " (" + keysHint + ")"
	}
	msg = unknownKey.ReplaceAllString(msg, unknown)
	msg = duration.ReplaceAllString(msg, `"$1" is not a duration: give a unit, such as 5s, 500ms or 1m`)
	return wrongType.ReplaceAllString(msg, `"$2" is the wrong kind of value here ($1)`)
}
