// Package bridge carries readings from MQTT to Redis: it subscribes to the
// edge agents' topics on a broker and stores every message through the same
// idempotent ingest as the direct path (store.Store.Ingest). It runs on its
// own (cmd/bridge) and inside the cloud (cloud --mqtt URL), from the same
// Options.
//
// # The MQTT contract
//
// Package mqttwire holds the contract both sides speak: the topics
// (tributary/D/readings and tributary/D/status), the client ids and the
// status message. An online status records a boot in Redis
// (store.Store.RecordBoot, idempotent), so the cloud can tell a gap in seq
// caused by a restart from readings lost on the way; an offline status
// records nothing.
//
// # Delivery
//
// The bridge subscribes with QoS 1 in a persistent session (clean session
// false, its user name as a stable client id) and acknowledges a message only after Redis
// holds what it carries, in the order received. A bridge that dies, or
// loses the broker, before acknowledging gets the message again (it, or its
// next run as the same user); ingest is idempotent on (device, seq),
// so the second copy stores nothing. While Redis fails, the bridge retries
// with jittered backoff and acknowledges nothing; the broker holds the rest
// (mosquitto: max_inflight_messages in flight to the bridge, up to
// max_queued_messages more queued). Readings of Tributary agents are thus
// stored exactly once, and with one bridge in the order each device
// published them.
//
// With Options.Group several bridges share the readings through the shared
// subscription $share/<group>/tributary/+/readings, each message going to
// one of them: no reading is stored twice, but two batches of a device
// handled by two bridges may enter its history stream in either order
// (their seqs say the true order). A bridge of a group that stops keeps,
// in its session at the broker, the messages given to it and not yet
// acknowledged, and mosquitto 2.0 goes on handing it its share of new ones
// while it is away: they wait until it is back, so restart it as the
// same user. Status topics are never
// shared (a shared subscription gets no retained messages): every bridge
// records every boot, idempotently.
//
// # Identity
//
// A client's id is its user name (mqttwire.ClientID), which the shipped
// broker config enforces (deploy/mosquitto: use_username_as_clientid), so
// that no client with valid credentials can take over the bridge's session
// (or a device's) by asking for its id. Each bridge replica is therefore a
// broker user of its own; Options.MQTT.ClientID may only repeat the user
// name. When the broker closes the connection anyway (it restarted, or a
// second connection with the bridge's credentials took the session over),
// the bridge counts it (tributary_bridge_mqtt_connections_lost_total), logs
// it at warn with the reason, and CheckReady fails until it has reconnected
// and subscribed again.
//
// # Checks and dead letters
//
// Every message is checked: its size (Options.MaxPayload), its schema
// (reading.DecodeBatch, mqttwire.DecodeStatus), and that every reading is of the
// device its topic names. A message that fails is appended to the Redis
// stream tributary:deadletter (Options.DeadLetterKey, capped at about
// Options.DeadLetterMaxLen entries) with the fields reason (one of
// Reasons), error, topic, payload (its first Options.DeadLetterPayload
// bytes), payload_bytes (its whole size), truncated ("true" when payload
// was cut) and ts (arrival, RFC 3339); it is counted in
// tributary_bridge_dead_letters_total{reason} and acknowledged. A bad
// message never stops the bridge.
//
// # Foreign formats
//
// Mappings (see Mapping, ParseMappings, the reference README.md and the
// example file ExampleMappings) turn SenML (RFC 8428) and flat JSON
// objects (Zigbee2MQTT, Tasmota, Shelly, Home Assistant-style JSON) on
// other topics into readings. Such devices number nothing, so their readings get
// seqs from a counter per device in Redis (store.Store.NextSeqs). This path
// is at-least-once: a message carries no identity of its own, so one that
// is stored and then delivered again (the bridge died, or lost the broker,
// before its acknowledgement arrived) is stored again under new seqs.
// Fields that no mapping entry claims are ignored and counted, not
// dead-lettered. Times outside the accepted window are restamped keeping
// their spacing, or refused (Mapping.Times); device names that make no
// valid id are dead-lettered or slugged (Mapping.DeviceNames, Slug).
// Foreign device ids are namespaced: a mapping that takes ids from the
// topic needs a Mapping.DevicePrefix, and no two mappings of a list may
// make the same id; an id with recorded boots (an agent's) is refused to
// every mapping.
//
// A Field gives a value its meaning: JSON booleans and string states
// through Values ({true: 0, false: 1} for a Zigbee2MQTT contact, which is
// true when closed), numbers through Scale and Offset, and units through
// package reading/unit: the unit a payload states (Field.UnitField for
// Tasmota's TempUnit and PressureUnit, u and bu in SenML) is converted to
// the field's where the conversion is exact (°F and K to Cel, mmHg, inHg
// and kPa to hPa, Wh to kWh, ...); a message with a unit that cannot be
// converted is dead-lettered whole, with reason "unit" and both units
// named, so that none of it is stored twice when it is replayed after the
// mapping is fixed. Units are stored as UCUM codes ("%" for relative
// humidity, not "%RH").
//
// # Metrics
//
// On Options.Registerer:
//
//	tributary_bridge_messages_received_total{kind}  kind: readings, status, mapped, events, excluded, other
//	tributary_bridge_messages_stored_total{kind}    acknowledged after Redis stored them
//	tributary_bridge_readings_stored_total
//	tributary_bridge_duplicate_readings_total
//	tributary_bridge_readings_refused_total{reason}  too_old, future: Redis refused them for good; acknowledged
//	tributary_bridge_dead_letters_total{reason}
//	tributary_bridge_ignored_fields_total{mapping}
//	tributary_bridge_restamped_readings_total{mapping}  readings shifted into the accepted window (Mapping.Times)
//	tributary_bridge_ingest_duration_seconds        histogram
//	tributary_bridge_reading_latency_seconds        histogram: a new reading's timestamp to its storage (internal/latency)
//	tributary_bridge_redis_up, tributary_bridge_redis_errors_total
//	tributary_bridge_mqtt_up
//	tributary_bridge_mqtt_connections_lost_total    the broker closed the connection (restart, session takeover) or it timed out
//	tributary_bridge_queue_messages                 received, not yet acknowledged
//	tributary_bridge_commands_relayed_total         commands published from the outbox (PUBACK'd)
//	tributary_bridge_commands_refused_total         outbox entries that held no valid command
//	tributary_bridge_command_events_relayed_total   command events stored from events topics
//
// # Commands to actuators
//
// Besides storing, a bridge relays commands (commands.go): it reads the
// Redis outbox (store.ReadOutbox) in the consumer group
// Options.CommandGroup, publishes each command on its device's
// mqttwire.CommandsTopic (QoS 1) and acknowledges it in Redis once the
// broker has it; entries another bridge of the group left pending for
// Options.CommandClaimIdle are taken over (XAUTOCLAIM). Command events on
// mqttwire.EventsTopic are checked (every event of the topic's device)
// and stored with store.ReportEvents; the actuators of an online status
// with store.SetActuators.
package bridge
