package proctest

import (
	"bytes"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// Log keeps the lines written to it, so that a test can await one and show
// them when it fails. It is safe for concurrent use; the zero value keeps
// every line.
type Log struct {
	// MaxLines bounds the lines kept: past it, the older half is dropped.
	// Zero keeps every line.
	MaxLines int

	mu      sync.Mutex
	lines   []string
	dropped int           // lines dropped from the front
	partial []byte        // the last write's unterminated line
	more    chan struct{} // closed and replaced on every new line
	closed  chan struct{} // closed by Close
	why     string        // why the writer finished, for messages
}

func (l *Log) init() {
	if l.more == nil {
		l.more = make(chan struct{})
		l.closed = make(chan struct{})
	}
}

// Write adds the complete lines in p; an unterminated line waits for the
// rest (or for Close).
func (l *Log) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	l.partial = append(l.partial, p...)
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.addLocked(string(l.partial[:i]))
		l.partial = l.partial[i+1:]
	}
	return len(p), nil
}

// Add adds one line.
func (l *Log) Add(line string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	l.addLocked(line)
}

func (l *Log) addLocked(line string) {
	if l.MaxLines > 0 && len(l.lines) >= l.MaxLines {
		n := len(l.lines) - l.MaxLines/2
		l.lines = append([]string(nil), l.lines[n:]...)
		l.dropped += n
	}
	l.lines = append(l.lines, line)
	close(l.more)
	l.more = make(chan struct{})
}

// Close says that nothing more will be written (the process exited, for
// why): an unterminated last line becomes a line, and Await stops waiting.
func (l *Log) Close(why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.init()
	if len(l.partial) > 0 {
		l.addLocked(string(l.partial))
		l.partial = nil
	}
	select {
	case <-l.closed:
	default:
		l.why = why
		close(l.closed)
	}
}

// String returns the lines kept, joined by newlines.
func (l *Log) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// Await returns the last submatch of re (the whole match if re has no
// group) in the first line that matches it, waiting up to timeout. It fails
// the test if no line matches by then or the log is closed first.
func (l *Log) Await(tb testing.TB, re string, timeout time.Duration) string {
	tb.Helper()
	rx := regexp.MustCompile(re)
	deadline := time.After(timeout)
	seen := 0 // lines looked at, counting dropped ones
	for {
		l.mu.Lock()
		l.init()
		lines, dropped, more, closed := l.lines, l.dropped, l.more, l.closed
		l.mu.Unlock()
		for seen = max(seen, dropped); seen-dropped < len(lines); seen++ {
			if m := rx.FindStringSubmatch(lines[seen-dropped]); m != nil {
				return m[len(m)-1]
			}
		}
		select {
		case <-more:
		case <-closed:
			l.mu.Lock()
			again := len(l.lines)+l.dropped > seen
			why := l.why
			l.mu.Unlock()
			if !again {
				tb.Fatalf("no /%s/ in the output before %s:\n%s", re, why, l.String())
			}
		case <-deadline:
			tb.Fatalf("no /%s/ in the output within %v:\n%s", re, timeout, l.String())
		}
	}
}

// Last returns the last submatch of re in the last line that matches it, or
// "" if none does.
func (l *Log) Last(re string) string {
	rx := regexp.MustCompile(re)
	l.mu.Lock()
	defer l.mu.Unlock()
	for i := len(l.lines) - 1; i >= 0; i-- {
		if m := rx.FindStringSubmatch(l.lines[i]); m != nil {
			return m[len(m)-1]
		}
	}
	return ""
}
