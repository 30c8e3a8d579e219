// Package bridge carries readings from MQTT to Redis: it subscribes to the
// edge agents' topics on a broker and stores every message through the same
// idempotent ingest as the direct path (store.Store.Ingest).
//
// The topics, the batch payload and the retained status message are the
// MQTT contract shared with the edge agent; see ReadingsTopic, StatusTopic
// and Status. Doc of the bridge itself follows with the implementation.
package bridge
