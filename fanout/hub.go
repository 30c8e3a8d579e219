package fanout

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/reading"
)

// Options configure a Hub. The zero value is usable: each field says its
// default.
type Options struct {
	// QueueSize is how many messages (readings and status frames) may wait
	// for one client. A client whose queue is full is disconnected with
	// close code 3008 "slow". Default 4096.
	QueueSize int
	// MaxFrameReadings caps the readings in one frame. Default 256.
	MaxFrameReadings int
	// MaxFrameBytes caps the readings' bytes in one frame (a single larger
	// reading still goes alone). Default 64 KiB.
	MaxFrameBytes int
	// WriteTimeout bounds every write to a client, frames and pings. A
	// client that cannot take a frame within it is dropped. Default 10s.
	WriteTimeout time.Duration
	// PingInterval is how often an idle client is pinged. Default 25s.
	PingInterval time.Duration
	// PongTimeout is how long a client may stay silent (no pong, no
	// message) beyond PingInterval before it is dropped. Default 20s.
	PongTimeout time.Duration
	// MaxMessageSize caps a message from a client (a control message). A
	// larger one closes the client with 1009 as soon as its frame header
	// says so, before its payload is read. Default
	// DefaultMaxMessageSize, which fits a control message selecting
	// MaxSelectedDevices devices of the longest ids; a smaller value
	// lowers the number of devices a client can select in one message.
	MaxMessageSize int64
	// CloseGrace is how long a closing handshake may take before the
	// connection is cut. Default 2s.
	CloseGrace time.Duration
	// Logger logs client connections and disconnections. Default: discard.
	Logger *slog.Logger
	// WriteLatency, if not nil, observes once per frame of readings written
	// to a client the age, in seconds, of the frame's oldest reading (the
	// cloud's tributary_cloud_reading_latency_seconds{stage="write"}; see
	// internal/latency). Readings published without a time are left out.
	// Default nil: not observed.
	WriteLatency prometheus.Observer
}

// Defaults for Options.
const (
	DefaultQueueSize        = 4096
	DefaultMaxFrameReadings = 256
	DefaultMaxFrameBytes    = 64 << 10
	DefaultWriteTimeout     = 10 * time.Second
	DefaultPingInterval     = 25 * time.Second
	DefaultPongTimeout      = 20 * time.Second
	DefaultMaxMessageSize   = 96 << 10 // > MaxControlSize, with room for white space
	DefaultCloseGrace       = 2 * time.Second
)

func (o Options) withDefaults() Options {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	defDur := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&o.QueueSize, DefaultQueueSize)
	def(&o.MaxFrameReadings, DefaultMaxFrameReadings)
	def(&o.MaxFrameBytes, DefaultMaxFrameBytes)
	defDur(&o.WriteTimeout, DefaultWriteTimeout)
	defDur(&o.PingInterval, DefaultPingInterval)
	defDur(&o.PongTimeout, DefaultPongTimeout)
	defDur(&o.CloseGrace, DefaultCloseGrace)
	if o.MaxMessageSize <= 0 {
		o.MaxMessageSize = DefaultMaxMessageSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Close codes the hub sends, beside the standard ones.
const (
	// CloseSlow closes a client whose queue overflowed (as in Centrifuge).
	CloseSlow = 3008
)

// Hub is the one owner of the set of WebSocket clients. It fans each
// published reading out to the clients that selected its device, through a
// bounded queue per client, so that a stalled client never holds up
// Publish or the other clients.
//
// All methods are safe for concurrent use.
type Hub struct {
	opt Options
	n   counters

	mu       sync.RWMutex
	all      map[*client]struct{}            // clients selecting every device
	byDevice map[string]map[*client]struct{} // clients selecting a device by name
	sel      map[*client]Selection           // every client and its selection
	status   reading.Status
	statusFr []byte // encoded status frame, shared by all receivers
	closed   bool

	wg sync.WaitGroup // one per served client
}

// NewHub returns a hub. Its status starts as not live ("waiting for the live
// feed") until SetStatus (or the source of Run) says otherwise.
func NewHub(opt Options) *Hub {
	opt = opt.withDefaults()
	h := &Hub{
		opt:      opt,
		all:      map[*client]struct{}{},
		byDevice: map[string]map[*client]struct{}{},
		sel:      map[*client]Selection{},
	}
	h.setStatusLocked(reading.Status{Live: false, Reason: errWaiting.Error()})
	return h
}

// Publish sends one reading of device, stamped ts, to every client that
// selected it. raw is the reading's canonical JSON; the hub keeps it,
// shares it among all receivers and never modifies it, so the caller must
// not modify it afterwards either. ts is the reading's own time, which
// Options.WriteLatency measures from (zero: not measured). Publish never
// blocks on a client: a client whose queue is full is disconnected as slow.
func (h *Hub) Publish(device string, ts time.Time, raw []byte) {
	h.n.received.Add(1)
	it := item{data: raw}
	if !ts.IsZero() {
		it.ts = ts.UnixNano()
	}
	h.mu.RLock()
	for c := range h.all {
		h.push(c, it)
	}
	for c := range h.byDevice[device] {
		h.push(c, it)
	}
	h.mu.RUnlock()
}

// PublishEvent sends frame, a complete frame about device (a command's
// progress), to every client that selected device, in order with the
// device's readings. The hub keeps frame and shares it among receivers; the
// caller must not modify it afterwards. Like Publish it never blocks.
func (h *Hub) PublishEvent(device string, frame []byte) {
	h.n.events.Add(1)
	it := item{data: frame, frame: true}
	h.mu.RLock()
	for c := range h.all {
		h.push(c, it)
	}
	for c := range h.byDevice[device] {
		h.push(c, it)
	}
	h.mu.RUnlock()
}

// push queues it for c, disconnecting c as slow if its queue is full.
func (h *Hub) push(c *client, it item) {
	if !c.q.push(it) {
		if c.close(CloseSlow, "slow") {
			h.n.slow.Add(1)
		}
	}
}

// SetStatus records whether live readings are flowing and sends a status
// frame to every client, unless the status is unchanged. A client that
// connects later gets the current status as its first frame.
func (h *Hub) SetStatus(live bool, reason string) {
	st := reading.Status{Live: live, Reason: reason}
	h.mu.Lock()
	defer h.mu.Unlock()
	if st == h.status {
		return
	}
	h.setStatusLocked(st)
	it := item{data: h.statusFr, frame: true}
	for c := range h.sel {
		h.push(c, it)
	}
}

func (h *Hub) setStatusLocked(st reading.Status) {
	b, err := json.Marshal(reading.Frame{V: reading.Version, Type: reading.FrameStatus, Status: &st})
	if err != nil {
		panic("fanout: encode status frame: " + err.Error()) // a struct of a bool and a string
	}
	h.status, h.statusFr = st, b
}

// Status returns the current status.
func (h *Hub) Status() reading.Status {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.status
}

// Clients returns the number of connected clients.
func (h *Hub) Clients() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.sel)
}

// Serve runs one client on conn, an upgraded WebSocket connection, with the
// selection sel, until the client goes away, breaks the protocol, falls too
// far behind, or ctx is done (it is then closed with 1001 "going away").
// Serve takes ownership of conn and closes it before it returns. The client
// first gets the current status, then the readings it selected as they are
// published.
func (h *Hub) Serve(ctx context.Context, conn *websocket.Conn, sel Selection) {
	h.ServeMessages(ctx, conn, sel, nil)
}

// ServeMessages is Serve with msgs handling the client's messages of types
// other than "subscribe" (nil: none, as Serve: such a message closes the
// client with 1008). ctx is also the handler's, until the client closes.
func (h *Hub) ServeMessages(ctx context.Context, conn *websocket.Conn, sel Selection, msgs MessageHandler) {
	c := newClient(h, conn, msgs)
	if !h.add(c, sel) {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	stop := context.AfterFunc(ctx, func() { c.close(websocket.CloseGoingAway, "server shutting down") })
	defer stop()
	h.opt.Logger.Debug("websocket client connected", "remote", conn.RemoteAddr().String(), "all", sel.All, "devices", len(sel.Devices))
	c.run(ctx)
	h.remove(c)
	code, reason := c.closeReason()
	h.opt.Logger.Debug("websocket client disconnected", "remote", conn.RemoteAddr().String(), "code", code, "reason", reason)
}

// add registers c with sel and queues the current status for it, unless the
// hub is shut down.
func (h *Hub) add(c *client, sel Selection) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	h.wg.Add(1)
	h.sel[c] = Selection{}
	h.selectLocked(c, sel)
	c.q.push(item{data: h.statusFr, frame: true})
	return true
}

// remove unregisters c; it gets nothing more.
func (h *Hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sel[c]; !ok {
		return
	}
	h.selectLocked(c, Selection{})
	delete(h.sel, c)
	h.wg.Done()
}

// resubscribe replaces the selection of a registered client.
func (h *Hub) resubscribe(c *client, sel Selection) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.sel[c]; ok {
		h.selectLocked(c, sel)
	}
}

func (h *Hub) selectLocked(c *client, sel Selection) {
	old := h.sel[c]
	if old.All {
		delete(h.all, c)
	}
	for _, d := range old.Devices {
		if set := h.byDevice[d]; set != nil {
			delete(set, c)
			if len(set) == 0 {
				delete(h.byDevice, d)
			}
		}
	}
	h.sel[c] = sel
	if sel.All {
		h.all[c] = struct{}{}
		return
	}
	for _, d := range sel.Devices {
		set := h.byDevice[d]
		if set == nil {
			set = map[*client]struct{}{}
			h.byDevice[d] = set
		}
		set[c] = struct{}{}
	}
}

// Shutdown closes every client with 1001 "going away", refuses new ones,
// and waits until all have finished or ctx is done.
func (h *Hub) Shutdown(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	for c := range h.sel {
		c.close(websocket.CloseGoingAway, "server shutting down")
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
