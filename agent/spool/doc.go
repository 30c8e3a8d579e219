// Package spool is the edge agent's on-disk store and forward: a durable,
// crash-safe FIFO of readings in a directory that implements agent.Queue,
// so that no reading is lost while the uplink is away, the agent restarts
// or the power fails. A reading leaves the spool only when the sender
// commits it, after the uplink has stored it; otherwise only a limit drops
// it, and every drop is counted by reason (Stats.Dropped,
// tributary_edge_spool_dropped_total), in counts kept in the directory
// across restarts.
//
// # Files
//
// The directory (created with mode 0700) holds:
//
//	lock                       flock'd while open: two agents never share a spool
//	cursor                     the ack cursor: two 512-byte slots
//	00000000000000000000.seg   segments, named by the index of their first record
//
// Every reading is one record: a 4-byte length, a CRC-32C of the length and
// the payload, and a compact binary payload (its index, seq, time as Unix
// seconds and nanoseconds, the value's IEEE 754 bits, then device, sensor,
// metric and unit). A typical reading takes about 64 bytes, against about
// 150 as canonical JSON: the same MaxBytes holds 2.3 times more readings,
// an SD card wears less, and recovery and a backlog drain need no JSON
// parsing (a drain reads about 1.3 million readings a second, far above
// what any uplink takes). Readings are numbered (indexed) from 0 over the
// spool's life and every record carries its index, so a gap between two
// valid records says exactly how many readings damage took. Segments grow
// to SegmentSize (4 MiB); one is written at a time and each Open starts a
// new one, so nothing is ever appended after bytes of unknown state. A
// segment is deleted when every reading in it is acknowledged or dropped.
//
// The ack cursor is the index below which every reading is acknowledged
// (or dropped), plus the index ranges dropped behind a batch in flight (up
// to 25 ranges; more stay in memory only, and those readings would be sent
// again after a restart). It also holds the index the spool has written
// up to and the drop counters by reason, over the spool's life. Every
// Push, Peek, Commit and drop that changes it writes it with one pwrite
// of a 512-byte slot, alternating between two slots that carry a
// generation and a CRC, so that a torn write leaves the previous cursor
// readable. Both slots are allocated at Open, so a full disk never stops a
// Commit, nor the counting of the readings it makes the spool drop.
//
// # Recovery
//
// Open reads the cursor and checks every record of every segment (about
// 0.1 s for a million readings in the page cache). A torn or damaged tail
// of the newest segment (a write cut by a crash) is truncated and counted
// (Stats.TornTails, TruncatedBytes). A damaged record anywhere else is
// skipped: the scan searches forward for the next valid record and counts
// the readings between as dropped with reason "corrupt". Damage found
// later, while reading a backlog, is handled the same way. The readings
// the cursor saw written after the last valid record (a tail cut, a
// newest segment lost) are counted with reason "truncated". Open carries
// the counters over and logs them when nonzero. Indices lost to damage
// become holes in the cursor, so that the next Open, which finds them
// missing again, does not count them twice (beyond 25 holes, it may). The
// spool never fails as a whole for damage, and never returns a record
// whose checksum does not match. A damaged cursor (both slots) makes it
// send everything it holds again and restarts the counters from zero.
//
// What the counts cannot see: after a power loss or kernel crash, the
// readings written since the cursor's last fsync (up to SyncEvery's worth;
// under SyncNever, since the kernel last wrote it back) may vanish with
// the cursor's own record of them, uncounted; the cloud sees their seqs
// missing. kill -9, a panic and the OOM killer lose nothing, and a count,
// once known, survives them.
//
// # Fsync policies and what they risk
//
// kill -9, a panic or the OOM killer lose nothing under any policy: a Push
// that returned has written its readings, and a Commit its cursor, into
// the kernel's page cache, which outlives the process. The policies differ
// on power loss and kernel crashes:
//
//   - SyncAlways: Push returns only after its readings are fsync'd (the
//     segment, and the directory when the segment is new): nothing whose
//     Push returned is lost. Concurrent Pushes share one fsync (group
//     commit: a background goroutine fsyncs everything written before it
//     starts and releases every Push it covered), so throughput grows with
//     the pushers and with the readings per Push; one pusher pays one fsync
//     per Push.
//   - SyncInterval (the default): Push returns after the write; a
//     background goroutine fsyncs once per SyncEvery (1 s) if anything was
//     written. A power loss can take the readings of up to one interval
//     (plus the fsync's own duration).
//   - SyncNever: the spool does not fsync while it runs; the kernel writes
//     dirty pages back on its own, on Linux after about 30 s
//     (vm.dirty_expire_centisecs), later under I/O pressure. A power loss
//     can take that much.
//
// Close fsyncs everything under every policy. Sync does it on demand.
//
// # What is sent twice
//
// After any restart the batch in flight (peeked, not committed) is sent
// again: it was never acknowledged. The cursor is fsync'd at most once per
// SyncEvery, after the segments (under SyncNever only by Close), so after a
// power loss or kernel crash it may lag: the readings committed in the
// last SyncEvery (under SyncNever, since the kernel last wrote the cursor
// back) are sent again too. Both are harmless: the uplink deduplicates by
// (device, seq). A cursor never points past a reading still needed, and
// kill -9 alone resends nothing but the batch in flight.
//
// # Limits
//
// MaxBytes (256 MiB) bounds the queued readings' record bytes; the disk
// holds about two segments more at most (the partly acknowledged oldest one
// and a partly dropped one behind a batch in flight). When a Push would
// exceed it, DropOldest (the default) drops the oldest readings not in
// flight, DropNewest the pushed ones. MaxAge (7 days) drops readings whose
// own time stamp (Reading.Time, not the time they were spooled) is older:
// a pushed one at once, a queued one when it reaches the head. Readings in
// flight (peeked and not committed) are never dropped by any limit.
//
// # Write errors
//
// A write that fails (ENOSPC, EIO, ...) is counted (Stats.WriteErrors,
// tributary_edge_spool_write_errors_total), logged (at most once a minute)
// and never fatal, not even in Open. The readings it could not write wait
// in memory, in order, up to MemoryLimit (10000), and Peek still serves
// them; every Push and every SyncEvery retries the write, which succeeds
// once the disk has room. Beyond MemoryLimit readings are dropped by the
// Full policy and counted as "disk_full"; so are those still waiting when
// Close gives up. A failed fsync is counted and logged too: the data it
// covered may not survive a power loss.
//
// # Memory
//
// The spool keeps in memory the last ReadCache (4096) readings written, so
// that a sender keeping up never reads the disk, the batch in flight, and
// the readings waiting for the disk. A backlog is read from disk
// sequentially through a 64 KiB buffer, one Peek at a time: a day of
// backlog never sits in RAM, and recovery keeps only counts.
package spool
