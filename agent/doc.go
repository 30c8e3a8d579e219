// Package agent is the edge agent's loop. The agent owns the clock and the
// schedule; a sensor only gathers (as in telegraf, where an input only
// gathers and the agent decides when).
//
// For each configured sensor the agent calls Read every interval, in its own
// goroutine (and, for a [sensors.Watcher], also takes each change as it
// happens), and turns each sample into a reading.Reading stamped with the
// device id, the sensor name, the agent clock's time (UTC, milliseconds) and
// the device's sequence number. Readings go into a [Queue], in production
// the on-disk spool (package agent/spool), before anything is sent; one
// sender goroutine takes them out in batches and hands them to the
// [Uplink] ([RedisUplink] or [MQTTUplink]), retrying a failed batch with
// jittered exponential backoff until it is stored, and only then removes it
// from the queue. So an uplink that goes away and comes back, or an agent
// killed at any moment, loses nothing the queue held and keeps the device's
// order. A backlog drains at most Options.DrainRate readings a second.
//
// # Sequence numbers and boots
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
// Each run is a [Boot] with an id ([NewBoot]) and the seq of its first
// reading. An uplink that can ([Booter]) records it, so that the cloud can
// tell the gap a restart leaves from readings lost; a boot not yet recorded
// stays in <state dir>/<device>.boots and the next run announces it.
//
// # Clocks
//
// Readings are stamped only by a clock the agent trusts
// (Options.ClockReady); until then they are held and stamped later from the
// monotonic clock, and a sensor's times never go backwards. See clock.go.
//
// # Failures
//
// A sensor whose Read fails is counted by kind (sensors.ErrorKind), logged
// (at most once a minute per sensor, with the number of errors in between)
// and read again at its next tick; after Options.DownAfter failures in a row
// it is "down" and retried with backoff up to Options.SensorBackoffMax. It
// never stops the agent or the other sensors; [Agent.Health] reports each
// sensor's state.
//
// Every Read is bounded by SensorConfig.Timeout (default 5s: room for the
// slowest conversions, such as a few DS18B20s at 750 ms each in turn on one
// bus, on a busy Pi), even one that ignores its context, as a driver
// waiting for a wedged chip may: the agent stops waiting then and counts a
// failure of kind "timeout". It never starts a second Read of a sensor
// while one is running: until the abandoned Read returns, every tick counts
// another timeout ("read still running after ..."), so the sensor goes
// down and is retried with backoff; once it returns, the sensor is read as
// usual. Run does not wait for such a Read: its goroutine, at most one per
// sensor, is abandoned and may outlive Run.
//
// The uplink's errors are counted and retried. Only an uplink error
// wrapping reading.ErrInvalid drops its batch, because retrying it cannot
// succeed.
//
// # Metrics
//
// On Options.Registerer:
//
//	tributary_edge_readings_total{sensor}               readings produced
//	tributary_edge_sensor_errors_total{sensor,kind}     failed reads by kind (and invalid samples)
//	tributary_edge_sensor_up{sensor}                    1 if the last read succeeded
//	tributary_edge_sensor_simulated{sensor}             1 if a simulation stands in for the hardware
//	tributary_edge_queue_readings                       readings queued, not yet sent
//	tributary_edge_dropped_readings_total{reason}       queue_full, invalid, rejected, refused, seq_lease, clock, shutdown; kept in the state dir
//	tributary_edge_uplink_errors_total                  failed sends (each retry counts)
//	tributary_edge_sent_readings_total                  readings the uplink accepted
//	tributary_edge_send_duration_seconds                histogram of successful sends
//	tributary_edge_uplink_up                            1 if the last send succeeded
//	tributary_edge_duplicate_readings_total             readings the uplink already had
//	tributary_edge_clock_held_readings                  readings waiting for a trusted clock
//	tributary_edge_clock_restamped_readings_total       readings stamped once the clock was trusted
//	tributary_edge_clock_backward_readings_total        readings kept from going back in time
//
// # Losses
//
// Every reading dropped is counted by reason in
// tributary_edge_dropped_readings_total, and the counts are kept in
// <state dir>/<device>.lost: written and fsync'd at each loss, before the
// metric moves, in two preallocated slots, so that a full disk still takes
// them. New starts the metric at the kept counts and Run logs them when
// nonzero; a damaged file restarts them from zero with a warning.
package agent
