// Package lograte keeps a repeating failure from flooding the log: one
// line per interval, with a count of the lines left out, and one line when
// the failures end.
package lograte

import "time"

// Limiter lets one failure per Every through to the log and counts the
// others. The zero value lets every failure through. It is not safe for
// concurrent use: give each goroutine (or each thing that fails) its own.
type Limiter struct {
	// Every is the shortest time between two logged failures.
	Every time.Duration

	last       time.Time // of the last logged failure; zero: none since OK
	suppressed int       // failures not logged since the last logged one
	failures   int       // failures since the last OK
}

// Fail records a failure at now. It reports whether to log it and how many
// failures were left out of the log before it. A clock that steps back
// lets the failure through rather than silencing the log.
func (l *Limiter) Fail(now time.Time) (suppressed int, log bool) {
	l.failures++
	if since := now.Sub(l.last); !l.last.IsZero() && since >= 0 && since < l.Every {
		l.suppressed++
		return 0, false
	}
	suppressed, l.suppressed, l.last = l.suppressed, 0, now
	return suppressed, true
}

// OK records a success. It reports how many failures came since the last
// success, and whether there were any (a recovery worth a log line). The
// next failure is logged at once.
func (l *Limiter) OK() (failures int, recovered bool) {
	failures = l.failures
	*l = Limiter{Every: l.Every}
	return failures, failures > 0
}
