// Package latency holds what every reading-latency histogram shares: the
// buckets and the measure, seconds from a reading's own timestamp.
//
// The histograms, one per stage of a reading's way to a browser:
//
//	tributary_edge_reading_latency_seconds{uplink="redis"|"mqtt"}     accepted by Redis, or PUBACKed by the broker (spool wait included)
//	tributary_bridge_reading_latency_seconds                          stored in Redis by the bridge (new readings only)
//	tributary_cloud_reading_latency_seconds{stage="relay"|"write"}    received from Redis's live channel; written to a WebSocket (once per frame, its oldest reading)
//
// The clocks are different machines' (the edge stamps, Redis, the bridge
// and the cloud measure), so a latency includes their offset; a negative
// one counts as 0.
package latency

import "time"

// Buckets are the upper bounds, in seconds, of every reading-latency
// histogram: from a millisecond (a reading relayed within one machine) to
// a day (a spool drained after an outage).
var Buckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21600, 86400}

// Help is the start of every latency histogram's help text.
const Help = "Seconds from a reading's own timestamp"

// Seconds is the latency of a reading stamped ts, seen at now: now-ts in
// seconds, 0 if ts is after now (clocks apart).
func Seconds(ts, now time.Time) float64 {
	return max(now.Sub(ts).Seconds(), 0)
}
