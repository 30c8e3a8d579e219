// Package mqttwire is the MQTT contract between Tributary's edge agents and
// the bridge: the topics, the client ids, the status message, and how a
// broker is reached (Broker, ParseURL). Like reading, it is vocabulary: it
// imports no MQTT client, Redis or bridge code, so the edge binary carries
// none of the bridge's mapping code.
//
// Client ids are identities: a client's id is its user name (ClientID), so
// that a client with valid credentials cannot take over another's session
// (the shipped broker config enforces it with use_username_as_clientid).
// An agent with device id D connects with user name D and client id
// EdgeClientID(D) = D, clean session false, and publishes with QoS 1:
//
//	tributary/D/readings   ReadingsTopic(D): a batch (reading.AppendBatch) of
//	                       1 to reading.MaxBatch readings of device D in seq
//	                       order, not retained
//	tributary/D/status     StatusTopic(D), retained: EncodeStatus of an online
//	                       Status when it connects, and of the offline Status
//	                       as its last will, which the broker publishes when
//	                       the agent vanishes
//
// A bridge subscribes to ReadingsFilter and StatusFilter, the readings
// possibly as a shared subscription (SharedFilter). Each bridge replica is
// a broker user of its own, whose name is its client id, stable across its
// restarts (BridgeClientID only on an anonymous broker).
package mqttwire
