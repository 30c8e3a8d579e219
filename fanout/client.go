package fanout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"

	"github.com/tributary-iot/tributary/internal/latency"
	"github.com/tributary-iot/tributary/reading"
)

// closeNone marks a client that ends without the hub sending a close frame:
// the peer closed first (gorilla answered it) or the connection broke.
const closeNone = 0

// client is one WebSocket connection. Its writer goroutine is the only one
// that writes data frames; its reader goroutine is the only one that reads.
type client struct {
	hub  *Hub
	conn *websocket.Conn
	q    *queue
	msgs MessageHandler // messages other than subscribe; nil: none taken

	once    sync.Once
	closing chan struct{} // closed by close; code and reason are set before
	code    int
	reason  string

	readerDone chan struct{}

	deadlineMu sync.Mutex // orders read-deadline changes with finish
	finishing  bool       // finish owns the read deadline
}

func newClient(h *Hub, conn *websocket.Conn, msgs MessageHandler) *client {
	return &client{
		hub:        h,
		conn:       conn,
		msgs:       msgs,
		q:          newQueue(h.opt.QueueSize),
		closing:    make(chan struct{}),
		readerDone: make(chan struct{}),
	}
}

// close asks the client to end, sending code and reason in a close frame
// (none for closeNone). Only the first call counts; it reports whether it
// was the first. It never blocks.
func (c *client) close(code int, reason string) bool {
	first := false
	c.once.Do(func() {
		c.code, c.reason = code, reason
		c.q.close()
		close(c.closing)
		first = true
	})
	return first
}

// closeReason returns what close was first called with. Call it only after
// the client has finished.
func (c *client) closeReason() (int, string) { return c.code, c.reason }

// run serves the client until it ends, and closes the connection. ctx is
// handed to the message handler, cancelled once the client is closing.
func (c *client) run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	go c.readLoop(ctx)
	c.writeLoop() // returns once the client is closing
	cancel()      // a message handler at work stops
	c.finish()
}

// writeLoop sends queued messages, batching readings into frames, and pings,
// until the client is closing or a write fails.
func (c *client) writeLoop() {
	o := &c.hub.opt
	ping := time.NewTicker(o.PingInterval)
	defer ping.Stop()
	var batch [][]byte
	var buf []byte
	for {
		var frame bool
		var oldest int64
		batch, frame, oldest = c.q.take(batch[:0], o.MaxFrameReadings, o.MaxFrameBytes)
		// With nothing taken, wait for the queue; with a batch in hand, go
		// on at once. Either way a due ping or a close comes first, so a
		// client that always has readings waiting still gets its pings (or
		// its read deadline would expire).
		next := c.q.wake
		if len(batch) > 0 {
			next = alreadyDone
		}
		select {
		case <-c.closing:
			return
		case <-ping.C:
			if !c.ping() {
				return
			}
		case <-next:
		}
		if len(batch) == 0 {
			continue
		}
		msg := batch[0]
		if !frame {
			buf = reading.AppendReadingsFrame(buf[:0], batch)
			msg = buf
		}
		// Counted before the write, so that a client that has the frame
		// sees it counted.
		c.hub.n.frames.Add(1)
		if !frame {
			c.hub.n.delivered.Add(uint64(len(batch)))
		}
		if err := c.write(msg); err != nil {
			c.close(closeNone, "write: "+err.Error())
			return
		}
		if oldest != 0 && o.WriteLatency != nil {
			o.WriteLatency.Observe(latency.Seconds(time.Unix(0, oldest), time.Now()))
		}
		clear(batch) // drop references to shared readings
		if cap(buf) > 4*o.MaxFrameBytes {
			buf = nil // one huge frame should not pin its buffer
		}
	}
}

// alreadyDone is a closed channel: receiving from it never blocks.
var alreadyDone = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

// ping sends a ping; it reports false, closing the client, if that fails.
func (c *client) ping() bool {
	if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.hub.opt.WriteTimeout)); err != nil {
		c.close(closeNone, "ping: "+err.Error())
		return false
	}
	return true
}

// extendRead pushes the read deadline idle into the future, unless finish
// has taken the deadline over.
func (c *client) extendRead(idle time.Duration) error {
	c.deadlineMu.Lock()
	defer c.deadlineMu.Unlock()
	if c.finishing {
		return nil
	}
	return c.conn.SetReadDeadline(time.Now().Add(idle))
}

func (c *client) write(msg []byte) error {
	if err := c.conn.SetWriteDeadline(time.Now().Add(c.hub.opt.WriteTimeout)); err != nil {
		return err
	}
	return c.conn.WriteMessage(websocket.TextMessage, msg)
}

// finish runs the closing handshake: it sends the close frame, lets the
// reader consume the peer's answer (so that unread input does not turn the
// close into a reset) for at most CloseGrace, then closes the connection.
func (c *client) finish() {
	o := &c.hub.opt
	deadline := time.Now().Add(o.CloseGrace)
	if c.code != closeNone {
		msg := websocket.FormatCloseMessage(c.code, truncateReason(c.reason))
		// A client stalled with full buffers gets WriteTimeout to take it.
		c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(o.WriteTimeout))
		deadline = time.Now().Add(o.CloseGrace)
	}
	c.deadlineMu.Lock()
	c.finishing = true
	c.conn.SetReadDeadline(deadline)
	c.deadlineMu.Unlock()
	<-c.readerDone
	c.conn.Close()
}

// truncateReason fits a close reason in a control frame (123 bytes).
func truncateReason(s string) string {
	const max = 123
	if len(s) <= max {
		return s
	}
	s = s[:max]
	for len(s) > 0 && !utf8.ValidString(s) {
		s = s[:len(s)-1]
	}
	return s
}

// readLoop reads control messages until the connection fails or closes.
// After the client starts closing it keeps reading and discarding input,
// so that the peer's close frame is consumed.
func (c *client) readLoop(ctx context.Context) {
	defer close(c.readerDone)
	o := &c.hub.opt
	idle := o.PingInterval + o.PongTimeout
	c.extendRead(idle)
	c.conn.SetPongHandler(func(string) error { return c.extendRead(idle) })
	// Gorilla refuses a larger message from its frame header, before
	// reading its payload, and sends 1009 itself.
	c.conn.SetReadLimit(o.MaxMessageSize)
	for {
		typ, r, err := c.conn.NextReader()
		if err != nil {
			c.readFailed(err)
			return
		}
		select {
		case <-c.closing:
			if _, err := io.Copy(io.Discard, r); err != nil {
				return
			}
			continue
		default:
		}
		data, err := io.ReadAll(r) // at most MaxMessageSize
		if err != nil {
			c.readFailed(err)
			return
		}
		c.extendRead(idle)
		switch {
		case typ != websocket.TextMessage:
			c.reject(websocket.CloseUnsupportedData, "binary messages are not supported; send JSON text")
		case c.msgs != nil && !isControl(data):
			if err := c.msgs(ctx, data, c.reply); err != nil {
				c.reject(websocket.ClosePolicyViolation, err.Error())
			}
		default:
			sel, err := DecodeControl(data)
			if err != nil {
				c.reject(websocket.ClosePolicyViolation, err.Error())
				continue
			}
			c.hub.resubscribe(c, sel)
		}
	}
}

// MessageHandler handles a message a client sent whose "type" is not
// "subscribe" (a command, say): msg is the whole text message (at most
// Options.MaxMessageSize bytes). It runs on the client's reader goroutine,
// one message at a time, so a slow handler delays the client's next
// messages and nothing else; ctx ends when the client starts closing.
// reply queues frame, a complete frame, for this client alone, after what
// is already queued for it; it never blocks (a full queue closes the
// client as slow) and may be called until the handler returns. An error
// closes the client with 1008 and the error as the reason; an answer the
// client should get while staying connected goes through reply.
type MessageHandler func(ctx context.Context, msg []byte, reply func(frame []byte)) error

// reply queues frame for c alone.
func (c *client) reply(frame []byte) { c.hub.push(c, item{data: frame, frame: true}) }

// isControl reports whether data is for DecodeControl: a message of type
// "subscribe", or one without a type (malformed: DecodeControl says how).
func isControl(data []byte) bool {
	var m struct {
		Type string `json:"type"`
	}
	return json.Unmarshal(data, &m) != nil || m.Type == "" || m.Type == "subscribe"
}

// readFailed ends the client after a read error.
func (c *client) readFailed(err error) {
	o := &c.hub.opt
	if errors.Is(err, websocket.ErrReadLimit) {
		// Gorilla has sent 1009, without a reason; this one is for the log.
		c.reject(websocket.CloseMessageTooBig, fmt.Sprintf("message larger than %d bytes", o.MaxMessageSize))
		return
	}
	if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
		// The read deadline: no pong (nor message) in time. Once closing,
		// the close already has its reason.
		c.close(closeNone, fmt.Sprintf("no pong or message for %v", o.PingInterval+o.PongTimeout))
		return
	}
	c.close(closeNone, readErrReason(err))
}

// reject closes the client for a bad message.
func (c *client) reject(code int, reason string) {
	if c.close(code, reason) {
		c.hub.n.rejected.Add(1)
	}
}

func readErrReason(err error) string {
	var ce *websocket.CloseError
	if errors.As(err, &ce) {
		return fmt.Sprintf("client closed: %d %s", ce.Code, ce.Text)
	}
	return "read: " + err.Error()
}
