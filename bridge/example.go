package bridge

import _ "embed" // the example mappings

//go:embed mappings.example.yaml
var exampleMappings string

// ExampleMappings returns a complete, commented YAML file of mappings
// (bridge/mappings.example.yaml): one worked example each for
// Zigbee2MQTT, Tasmota, Shelly (Gen2), Home Assistant-style JSON and
// SenML, with the documented payloads it was tested with. `bridge
// mappings --example` prints it; ParseMappings accepts it.
func ExampleMappings() string { return exampleMappings }
