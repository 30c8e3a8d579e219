// Package agent is the edge agent's loop. The agent owns the clock and the
// schedule; a sensor only gathers (as in telegraf, where an input only
// gathers and the agent decides when).
//
// For each configured sensor the agent calls Read every interval, in its own
// goroutine, and turns each sample into a reading.Reading stamped with the
// device id, the sensor name, the agent clock's time (UTC, milliseconds) and
// the device's sequence number. Readings go into a bounded [Queue]; one
// sender goroutine takes them out in batches and hands them to the [Uplink],
// retrying a failed batch with jittered exponential backoff until it is
// stored, so that an uplink that goes away and comes back loses nothing the
// queue held and keeps the device's order.
//
// # Sequence numbers
//
// seq grows with every reading of the device, across sensors and across
// restarts, and is never reused: (device, seq) identifies a reading and
// ingest is idempotent on it. The agent persists it in its state directory
// by leases: before handing out seqs up to N it writes N to
// <state dir>/<device>.seq (write, fsync, rename, fsync of the directory).
// A clean stop writes the exact last seq, so nothing is skipped; after a
// crash at most one lease (Options.LeaseSize) of numbers is skipped, never
// reused. Two agents must not share a device id and a state directory.
//
// # Failures
//
// A sensor whose Read fails is counted, logged (at most once a minute per
// sensor, with the number of errors in between) and read again at its next
// tick; it never stops the agent or the other sensors. The uplink's errors
// are counted and retried. Only an uplink error wrapping reading.ErrInvalid
// drops its batch, because retrying it cannot succeed.
//
// # Metrics
//
// On Options.Registerer:
//
//	tributary_edge_readings_total{sensor}          readings produced
//	tributary_edge_sensor_errors_total{sensor}     failed reads (and invalid samples)
//	tributary_edge_queue_readings                  readings queued, not yet sent
//	tributary_edge_dropped_readings_total{reason}  queue_full, invalid, rejected, seq_lease
//	tributary_edge_uplink_errors_total             failed sends (each retry counts)
//	tributary_edge_sent_readings_total             readings the uplink accepted
//	tributary_edge_send_duration_seconds           histogram of successful sends
//	tributary_edge_uplink_up                       1 if the last send succeeded
package agent
