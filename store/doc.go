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
//	                             reading (by ts) of that series;
//	                             "refused:<reason>": readings refused.
//	tributary:{dev-1}:latest_ts  Hash. "<sensor>/<metric>": ts (unix ms) of
//	                             that reading.
//	tributary:{dev-1}:dedup      String used as a bitmap, at most 8 KiB: a
//	                             ring of 16 blocks of 4096 seqs; bit
//	                             (n mod 16)*4096 + (seq mod 4096), with
//	                             n = seq div 4096, is set once reading seq
//	                             is stored. It covers the block of the
//	                             highest seq and the 15 below (DedupSeqs);
//	                             a block is cleared as the window enters
//	                             it. This makes ingest idempotent, also for
//	                             out-of-order seqs, in bounded memory.
//	tributary:{dev-1}:dedup_head Hash. "seq": the highest seq the window
//	                             covers (a decimal string: seqs are uint64,
//	                             compared as strings in Lua, whose numbers
//	                             are doubles); "ts": the newest ts stored
//	                             (unix ms). A seq behind the window is
//	                             refused (RefusedTooOld) unless its ts is
//	                             after "ts": then the device's seqs
//	                             restarted and it opens a new window.
//	                             Both dedup keys expire after
//	                             Options.DedupWindow without a stored
//	                             reading.
//	tributary:live:{dev-1}       Pub/Sub channel. Each message is one reading's
//	                             canonical JSON, published once, when stored.
//	tributary:retention          Hash. The retention the cloud publishes and
//	                             every ingester applies; see Retention.
//	tributary:devices            Sorted set. Member: device id; score: unix ms
//	                             of its last ingest (a reading stored or
//	                             refused). RunRetention forgets devices
//	                             silent for Options.DeviceRetention: every
//	                             key of theirs and both registry entries.
//	tributary:device_ids         Sorted set, every score 0: the same ids in
//	                             byte order, for DevicesPage.
//
// The registry is a hint: a device is what its own keys say. Readers skip
// a member without a latest hash, and any latest field that is not a valid
// reading of its device and series. DevicesPage removes the id-index
// members it meets without a latest hash, and the sweep (SweepDevices)
// walks the whole index, 10,000 ids a round, removing the others.
//
// Every per-device key and channel carries the device id as a hash tag, so a
// device's keys live in one Redis Cluster slot and one Lua script stores a
// batch atomically: a reading is either stored, published and deduplicated,
// or none of these. The script checks its own arguments, since a device
// may be allowed to run it: at most reading.MaxBatch readings of at most
// reading.MaxEncoded bytes a call (Redis runs nothing else while a script
// runs), and keys of the wrong type, which only the device's own raw
// writes can make, are deleted rather than failing every ingest of the
// device (and, on the bridge, of everyone behind it).
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
