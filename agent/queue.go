package agent

import (
	"context"
	"sync"

	"github.com/tributary-iot/tributary/reading"
)

// Queue holds readings between sampling and sending. The agent pushes
// readings in seq order and one sender peeks and commits them; an
// implementation may be in memory (MemQueue) or on disk (a spool that
// survives restarts). Implementations must be safe for concurrent use by
// one pusher and one sender.
type Queue interface {
	// Push appends rs, in order, after everything queued. It does not wait
	// for the sender. A bounded queue makes room by its own policy and
	// returns how many readings it dropped to do so.
	Push(rs []reading.Reading) (dropped int)
	// Peek returns up to max of the oldest readings without removing them,
	// as a slice the caller owns. If readings are queued it returns at once,
	// even when ctx has ended; otherwise it waits until something is pushed
	// or ctx ends, and then returns nil and ctx.Err(). Peeked readings stay
	// queued, and are not dropped, until Commit; a later Peek returns them
	// first again.
	Peek(ctx context.Context, max int) ([]reading.Reading, error)
	// Commit removes the n oldest readings, all of which the last Peek
	// returned, once the uplink has stored them.
	Commit(n int)
	// Len is how many readings are queued, peeked ones included.
	Len() int
}

// DefaultQueueSize is the capacity of the default MemQueue, in readings.
const DefaultQueueSize = 100000

// MemQueue is a bounded in-memory Queue. When full, Push drops the oldest
// reading that is not being sent (not peeked and uncommitted), so the queue
// keeps the newest data and the batch in flight stays intact; if every
// queued reading is in flight, the pushed reading itself is dropped. It is
// safe for concurrent use.
type MemQueue struct {
	mu       sync.Mutex
	buf      []reading.Reading // ring
	head     int               // index of the oldest
	n        int               // readings queued
	inflight int               // oldest readings peeked and not committed
	notify   chan struct{}     // non-empty after a Push
}

// NewMemQueue returns a queue holding at most size readings
// (DefaultQueueSize if size <= 0).
func NewMemQueue(size int) *MemQueue {
	if size <= 0 {
		size = DefaultQueueSize
	}
	return &MemQueue{buf: make([]reading.Reading, size), notify: make(chan struct{}, 1)}
}

// Cap is the queue's capacity in readings.
func (q *MemQueue) Cap() int { return len(q.buf) }

// Push implements Queue.
func (q *MemQueue) Push(rs []reading.Reading) (dropped int) {
	q.mu.Lock()
	size := len(q.buf)
	for _, r := range rs {
		if q.n == size {
			if q.inflight >= q.n {
				dropped++
				continue
			}
			// Drop the oldest reading not in flight: move the in-flight
			// prefix up by one over it.
			for i := q.inflight; i > 0; i-- {
				q.buf[(q.head+i)%size] = q.buf[(q.head+i-1)%size]
			}
			q.buf[q.head] = reading.Reading{}
			q.head = (q.head + 1) % size
			q.n--
			dropped++
		}
		q.buf[(q.head+q.n)%size] = r
		q.n++
	}
	q.mu.Unlock()
	if len(rs) > 0 {
		select {
		case q.notify <- struct{}{}:
		default:
		}
	}
	return dropped
}

// Peek implements Queue.
func (q *MemQueue) Peek(ctx context.Context, max int) ([]reading.Reading, error) {
	if max <= 0 {
		max = 1
	}
	for {
		q.mu.Lock()
		if q.n > 0 {
			k := min(q.n, max)
			out := make([]reading.Reading, k)
			for i := range out {
				out[i] = q.buf[(q.head+i)%len(q.buf)]
			}
			q.inflight = k
			q.mu.Unlock()
			return out, nil
		}
		q.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-q.notify:
		}
	}
}

// Commit implements Queue.
func (q *MemQueue) Commit(n int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	n = min(n, q.n)
	for i := range n {
		q.buf[(q.head+i)%len(q.buf)] = reading.Reading{}
	}
	q.head = (q.head + n) % len(q.buf)
	q.n -= n
	q.inflight = 0
}

// Len implements Queue.
func (q *MemQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.n
}
