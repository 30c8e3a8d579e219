package fanout

import "testing"

// QueueLenOfOnlyClient returns a function that tells how many messages wait
// in the queue of h's one client (failing the test unless h has one).
func QueueLenOfOnlyClient(t *testing.T, h *Hub) func() int {
	t.Helper()
	h.mu.RLock()
	defer h.mu.RUnlock()
	if len(h.sel) != 1 {
		t.Fatalf("%d clients, want 1", len(h.sel))
	}
	for c := range h.sel {
		return c.q.len
	}
	panic("unreachable")
}
