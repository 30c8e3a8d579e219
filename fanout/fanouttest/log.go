package fanouttest

import (
	"context"
	"log/slog"
	"sync"
	"testing"
	"time"
)

// LogRecorder is a slog.Handler that keeps every record, for tests that
// check what was logged. It is safe for concurrent use.
type LogRecorder struct {
	mu     sync.Mutex
	recs   []Record
	logged chan struct{} // a token when a record arrives
}

// Record is a logged record's level, message and attributes as text.
type Record struct {
	Level slog.Level
	Msg   string
	Attrs map[string]string
}

// NewLogRecorder returns an empty recorder.
func NewLogRecorder() *LogRecorder { return &LogRecorder{logged: make(chan struct{}, 1)} }

func (l *LogRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (l *LogRecorder) WithAttrs([]slog.Attr) slog.Handler       { return l }
func (l *LogRecorder) WithGroup(string) slog.Handler            { return l }

func (l *LogRecorder) Handle(_ context.Context, r slog.Record) error {
	rec := Record{Level: r.Level, Msg: r.Message, Attrs: map[string]string{}}
	r.Attrs(func(a slog.Attr) bool {
		rec.Attrs[a.Key] = a.Value.String()
		return true
	})
	l.mu.Lock()
	l.recs = append(l.recs, rec)
	l.mu.Unlock()
	select {
	case l.logged <- struct{}{}:
	default:
	}
	return nil
}

// Await waits until n records with msg have been logged.
func (l *LogRecorder) Await(t testing.TB, msg string, n int) {
	t.Helper()
	timeout := time.After(Timeout)
	for len(l.Find(msg)) < n {
		select {
		case <-l.logged:
		case <-timeout:
			t.Fatalf("%q logged %d times within %v, want %d", msg, len(l.Find(msg)), Timeout, n)
		}
	}
}

// Level returns the records logged at level so far.
func (l *LogRecorder) Level(level slog.Level) []Record {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []Record
	for _, r := range l.recs {
		if r.Level == level {
			out = append(out, r)
		}
	}
	return out
}

// Find returns the attributes of the records logged with msg so far.
func (l *LogRecorder) Find(msg string) []map[string]string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []map[string]string
	for _, r := range l.recs {
		if r.Msg == msg {
			out = append(out, r.Attrs)
		}
	}
	return out
}
