// Package store is Tributary's Redis keyspace: idempotent ingest of readings,
// the per-device history streams, the live Pub/Sub channels and the device
// registry. The edge agent (direct uplink), the MQTT bridge and the cloud all
// go through it, so the keyspace is defined in one place.
//
// # Keyspace
//
// With the default prefix "tributary" and a device "dev-1":
//
//	tributary:{dev-1}:readings   Stream. One entry per reading, field "r" holds
//	                             the reading's canonical JSON. Entry ids are
//	                             Redis arrival time. Capped by Options.MaxLen
//	                             (approximately, MAXLEN ~) and Options.MaxAge
//	                             (MINID ~).
//	tributary:{dev-1}:latest     Hash. "seen": Redis time (unix ms) of the last
//	                             ingest; "seq": highest seq stored;
//	                             "<sensor>/<metric>": JSON of the newest
//	                             reading (by ts) of that series.
//	tributary:{dev-1}:latest_ts  Hash. "<sensor>/<metric>": ts (unix ms) of
//	                             that reading.
//	tributary:{dev-1}:seen:<n>   String used as a bitmap: bit (seq mod 65536)
//	                             is set once reading seq (seq div 65536 = n)
//	                             has been stored. Expires after
//	                             Options.DedupWindow. This is what makes
//	                             ingest idempotent, also for out-of-order seqs.
//	tributary:live:{dev-1}       Pub/Sub channel. Each message is one reading's
//	                             canonical JSON, published once, when stored.
//	tributary:retention          Hash. The retention the cloud publishes and
//	                             every ingester applies; see Retention.
//	tributary:devices            Sorted set. Member: device id; score: unix ms
//	                             of its last ingest.
//
// Every per-device key and channel carries the device id as a hash tag, so a
// device's keys live in one Redis Cluster slot and one Lua script stores a
// batch atomically: a reading is either stored, published and deduplicated,
// or none of these.
//
// # Boots, assigned seqs and dead letters (the MQTT bridge)
//
//	tributary:{dev-1}:boots         Stream. One entry per boot of the
//	                                device's agent (fields "boot", "first_seq",
//	                                "ts" in unix ms), from its retained online
//	                                status; see RecordBoot. Capped at about
//	                                MaxBoots entries.
//	tributary:{dev-1}:assigned_seq  String. The last seq NextSeqs handed out
//	                                to a device that numbers nothing itself
//	                                (SenML, Zigbee2MQTT, Tasmota via the
//	                                bridge's mappings).
//	tributary:deadletter            Stream. MQTT messages the bridge refused
//	                                (fields "reason", "error", "topic",
//	                                "payload", "payload_bytes", "truncated",
//	                                "ts"); capped. Written by package bridge.
package store
