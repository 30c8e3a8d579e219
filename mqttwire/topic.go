package mqttwire

import (
	"cmp"
	"strings"

	"github.com/tributary-iot/tributary/reading"
)

const (
	// TopicRoot is the first level of every Tributary topic.
	TopicRoot = "tributary"
	// ReadingsFilter matches every device's readings topic.
	ReadingsFilter = TopicRoot + "/+/readings"
	// StatusFilter matches every device's status topic.
	StatusFilter = TopicRoot + "/+/status"
)

// ReadingsTopic is the topic device publishes its batches of readings to.
func ReadingsTopic(device string) string { return TopicRoot + "/" + device + "/readings" }

// StatusTopic is the topic device publishes its retained status to.
func StatusTopic(device string) string { return TopicRoot + "/" + device + "/status" }

// SharedFilter is filter as a shared subscription of group
// ("$share/<group>/<filter>"): the broker hands each message to one
// subscriber of the group.
func SharedFilter(group, filter string) string { return "$share/" + group + "/" + filter }

// Topic kinds returned by ParseTopic.
const (
	KindReadings = "readings"
	KindStatus   = "status"
)

// ParseTopic splits a Tributary topic "tributary/<device>/<kind>" into the
// device id and the kind (KindReadings or KindStatus). ok is false for any
// other topic, including one whose device is not a valid device id
// (reading.ValidID).
func ParseTopic(topic string) (device, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, TopicRoot+"/")
	if !found {
		return "", "", false
	}
	device, kind, found = strings.Cut(rest, "/")
	if !found || (kind != KindReadings && kind != KindStatus) || !reading.ValidID(device) {
		return "", "", false
	}
	return device, kind, true
}

// EdgeClientID is the MQTT client id of device's agent. It is stable, so the
// broker keeps the agent's session (clean session false) across reconnects.
func EdgeClientID(device string) string { return "tributary-edge-" + device }

// BridgeClientIDPrefix starts every default bridge client id.
const BridgeClientIDPrefix = "tributary-bridge"

// BridgeClientID is a bridge's default client id: "tributary-bridge-<host>",
// or "tributary-bridge-<group>-<host>" in a group. An empty host reads
// "unknown". It is stable across the bridge's restarts on one host, so the
// broker keeps what the bridge has not acknowledged.
func BridgeClientID(group, host string) string {
	id := BridgeClientIDPrefix
	if group != "" {
		id += "-" + group
	}
	return id + "-" + cmp.Or(host, "unknown")
}
