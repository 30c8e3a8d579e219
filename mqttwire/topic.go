package mqttwire

import (
	"cmp"
	"fmt"
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
	// CommandsFilter matches every device's commands topic.
	CommandsFilter = TopicRoot + "/+/commands"
	// EventsFilter matches every device's command events topic.
	EventsFilter = TopicRoot + "/+/events"
)

// ReadingsTopic is the topic device publishes its batches of readings to.
func ReadingsTopic(device string) string { return TopicRoot + "/" + device + "/readings" }

// StatusTopic is the topic device publishes its retained status to.
func StatusTopic(device string) string { return TopicRoot + "/" + device + "/status" }

// CommandsTopic is the topic the bridges publish device's commands to
// (QoS 1, not retained; one command's JSON a message). Only device may
// subscribe to it (deploy/mosquitto/acl).
func CommandsTopic(device string) string { return TopicRoot + "/" + device + "/commands" }

// EventsTopic is the topic device publishes its command events to (QoS 1;
// a JSON array of 1 to MaxEventBatch events, in order: EncodeEvents).
func EventsTopic(device string) string { return TopicRoot + "/" + device + "/events" }

// SharedFilter is filter as a shared subscription of group
// ("$share/<group>/<filter>"): the broker hands each message to one
// subscriber of the group.
func SharedFilter(group, filter string) string { return "$share/" + group + "/" + filter }

// Topic kinds returned by ParseTopic.
const (
	KindReadings = "readings"
	KindStatus   = "status"
	KindCommands = "commands"
	KindEvents   = "events"
)

// ParseTopic splits a Tributary topic "tributary/<device>/<kind>" into the
// device id and the kind (KindReadings, KindStatus, KindCommands or
// KindEvents). ok is false for any
// other topic, including one whose device is not a valid device id
// (reading.ValidID).
func ParseTopic(topic string) (device, kind string, ok bool) {
	rest, found := strings.CutPrefix(topic, TopicRoot+"/")
	if !found {
		return "", "", false
	}
	device, kind, found = strings.Cut(rest, "/")
	if !found || (kind != KindReadings && kind != KindStatus && kind != KindCommands && kind != KindEvents) || !reading.ValidID(device) {
		return "", "", false
	}
	return device, kind, true
}

// EdgeClientID is the MQTT client id of device's agent: its user name,
// which is the device id (see ClientID). It is stable, so the broker keeps
// the agent's session (clean session false) across reconnects.
func EdgeClientID(device string) string { return device }

// BridgeClientIDPrefix starts every default bridge client id.
const BridgeClientIDPrefix = "tributary-bridge"

// BridgeClientID is the client id of a bridge that connects without a user
// name (an anonymous broker, such as the demo's): "tributary-bridge-<host>",
// or "tributary-bridge-<group>-<host>" in a group. An empty host reads
// "unknown". A bridge with a user name uses its user name (ClientID).
func BridgeClientID(group, host string) string {
	id := BridgeClientIDPrefix
	if group != "" {
		id += "-" + group
	}
	return id + "-" + cmp.Or(host, "unknown")
}

// ClientID returns the client id of a client with user name user: the user
// name itself. The shipped broker config enforces this rule
// (use_username_as_clientid true replaces any client id by the user name),
// so that no client can take over another user's session: one broker user
// per agent (its device id) and per bridge replica. given is the client id
// asked for ("" for the default); it must be the user name when there is
// one. Without a user name (an anonymous broker) the id is given, else
// fallback.
func ClientID(user, given, fallback string) (string, error) {
	switch {
	case user == "":
		return cmp.Or(given, fallback), nil
	case given != "" && given != user:
		return "", fmt.Errorf("MQTT client id %q differs from the user name %q: a client's id is its user name "+
			"(the broker replaces it, use_username_as_clientid); give each bridge replica a broker user of its own", given, user)
	}
	return user, nil
}
