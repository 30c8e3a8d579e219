package fanout

import "sync"

// item is one queued message for a client: either one reading's canonical
// JSON (shared with every other receiver; never modified) or a complete
// frame (a status frame) that is sent on its own.
type item struct {
	data  []byte
	frame bool
	ts    int64 // a reading's own time, unix ns; 0: unknown
}

// queue is a bounded FIFO of items with a wake-up signal for its single
// consumer. Push never blocks. It is safe for concurrent use.
type queue struct {
	mu     sync.Mutex
	items  []item // items[head:] are queued
	head   int
	limit  int
	closed bool
	wake   chan struct{} // gets a token when items become available
}

func newQueue(limit int) *queue {
	return &queue{limit: limit, wake: make(chan struct{}, 1)}
}

// push appends it and reports whether there was room. A closed queue
// accepts and drops everything (the client is going away).
func (q *queue) push(it item) bool {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return true
	}
	if len(q.items)-q.head >= q.limit {
		q.mu.Unlock()
		return false
	}
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the consumed front before growing.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, it)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return true
}

// take moves queued items to dst and returns it: a single frame item if one
// is first in line, or else up to maxItems readings totalling at most
// maxBytes (at least one reading, whatever its size), stopping before the
// next frame item. oldest is the earliest time of the readings taken (unix
// ns; 0 if none has one).
func (q *queue) take(dst [][]byte, maxItems, maxBytes int) (out [][]byte, frame bool, oldest int64) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.head == len(q.items) {
		return dst, false, 0
	}
	if first := q.items[q.head]; first.frame {
		q.items[q.head] = item{}
		q.head++
		q.reset()
		return append(dst, first.data), true, 0
	}
	size := 0
	for q.head < len(q.items) && len(dst) < maxItems {
		it := q.items[q.head]
		if it.frame || len(dst) > 0 && size+len(it.data)+1 > maxBytes {
			break
		}
		dst = append(dst, it.data)
		size += len(it.data) + 1
		if it.ts != 0 && (oldest == 0 || it.ts < oldest) {
			oldest = it.ts
		}
		q.items[q.head] = item{}
		q.head++
	}
	q.reset()
	return dst, false, oldest
}

// reset rewinds an emptied queue so that its backing array is reused. It
// releases a large backing array once drained, so that a burst does not pin
// memory for the client's whole life.
func (q *queue) reset() {
	if q.head != len(q.items) {
		return
	}
	q.head = 0
	if cap(q.items) > 1024 {
		q.items = nil
	} else {
		q.items = q.items[:0]
	}
}

// len is the number of queued items.
func (q *queue) len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items) - q.head
}

// close drops every queued item; later pushes are accepted and dropped.
func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.items, q.head = nil, 0
	q.mu.Unlock()
}
