// Package spool is the edge agent's on-disk store and forward: a durable,
// crash-safe FIFO of readings in a directory, implementing agent.Queue, so
// that no reading is lost while the uplink is away, the agent restarts or
// the power fails. A reading leaves the spool only when the sender commits
// it, after the uplink has stored it; otherwise it is dropped by a limit
// and counted (Stats, tributary_edge_spool_dropped_total).
//
// # Files
//
// The directory holds:
//
//	lock                         flock'd by the open spool: two agents never share a spool
//	cursor                       the ack cursor (two 512-byte slots, see below)
//	00000000000000000000.seg     segments, named by the index of their first record
//
// Every reading is one record in a segment: a 4-byte length, a CRC-32C of
// the length and payload, and a compact binary payload (index, seq, time,
// value bits, device, sensor, metric, unit). A record takes about 60 bytes
// for a typical reading, against about 150 for the canonical JSON, and
// decodes without reflection or parsing: the spool holds 2.5 times more
// readings in the same MaxBytes, wears an SD card less, and drains a
// backlog far faster than the uplink can take it. Every record carries its
// index (readings are numbered from 0 over the spool's life), so a gap
// between two valid records says exactly how many readings damage took.
// Segments are SegmentSize (4 MiB) long; one is written at a time, and a
// segment is deleted once every reading in it is acknowledged (or dropped).
// Records are only ever appended to the segment created by this Open: a
// restart never writes after bytes of unknown state.
//
// The ack cursor is the index below which every reading is acknowledged,
// plus the index ranges dropped behind a batch in flight (up to 30; more
// are kept in memory only). Commit writes it with one pwrite of a 512-byte
// slot, alternating between two slots with a generation number and a CRC,
// so that a torn write leaves the previous cursor readable.
//
// # Recovery
//
// Open reads the cursor and scans every segment, checking every record. A
// torn or damaged tail of the newest segment (a write cut by a crash) is
// truncated and counted (Stats.TornTails, TruncatedBytes). A damaged
// record elsewhere is skipped: the scan searches forward for the next
// valid record, and the readings between are counted as dropped with
// reason "corrupt"; the spool never fails as a whole, and never returns a
// record whose checksum does not match. A damaged cursor (both slots)
// makes the spool send everything it holds again.
//
// # Fsync policies and what they risk
//
// kill -9 (or a panic, or the OOM killer) loses nothing under any policy:
// a Push that returned has written its readings, and a Commit its cursor,
// to the kernel's page cache, which outlives the process. The policies
// differ on power loss or a kernel crash:
//
//   - SyncAlways: Push returns only after its readings are fsync'd (the
//     segment, and the directory when the segment is new). Nothing whose
//     Push returned is lost. Concurrent Pushes share one fsync (group
//     commit: a background goroutine fsyncs everything written before it
//     started and releases every Push it covered), so throughput grows
//     with the pushers and the readings per Push; a single pusher pays one
//     fsync per Push.
//   - SyncInterval (the default): Push returns after the write; a
//     background goroutine fsyncs at most once per SyncEvery (1 s). A power
//     loss can take up to one interval of readings (plus the fsync's own
//     duration).
//   - SyncNever: the spool never fsyncs while it runs; the kernel writes
//     dirty pages back on its own (on Linux after about 30 s,
//     vm.dirty_expire_centisecs). A power loss can take about 30 s of
//     readings, or more under I/O pressure.
//
// Close fsyncs everything under every policy.
//
// The cursor is fsync'd at most once per SyncEvery (never under SyncNever,
// but in Close), after the segments. After a power loss the cursor may
// therefore lag: the readings committed in the last SyncEvery before the
// loss (under SyncNever, since the kernel last wrote the cursor back) are
// sent again. That is harmless: the uplink deduplicates by (device, seq).
// A cursor never points past readings that are still needed.
//
// # Limits
//
// MaxBytes (256 MiB) bounds the queued readings' record bytes; the disk
// holds at most about two segments more (the partly acknowledged oldest one
// and the partly dropped one behind a batch in flight). When a Push would
// exceed it, DropOldest (the default) drops the oldest readings not in
// flight, DropNewest the pushed ones. MaxAge (7 days) drops readings whose
// own time stamp (Reading.Time, not the time they were spooled) is older:
// a pushed one at once, a queued one when it reaches the head. Readings in
// flight (peeked and not committed) are never dropped by any limit.
//
// # Write errors
//
// A write that fails (ENOSPC, EIO) is counted (Stats.WriteErrors,
// tributary_edge_spool_write_errors_total), logged (at most once a minute)
// and never fatal. The readings it could not write wait in memory, in
// order, up to MemoryLimit (10000), and are still served by Peek; every
// Push and every SyncEvery retries the write, which succeeds once the disk
// has room. Beyond MemoryLimit readings are dropped by the Full policy and
// counted as "disk_full". A failed fsync is counted and logged too; the
// data it covered may not survive a power loss.
//
// # Memory
//
// The spool keeps in memory the last ReadCache (4096) written readings, so
// that a sender keeping up never reads the disk, the batch in flight, and
// the readings waiting for the disk. A backlog is read from disk
// sequentially through a 64 KiB buffer, one Peek at a time: a day of
// backlog never sits in RAM. Open scans every segment (at disk speed,
// without decoding readings) and keeps only counts.
package spool
