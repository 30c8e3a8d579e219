// Package fanout sends live readings to WebSocket clients.
//
// A [Hub] is the one owner of the client set. [Hub.Publish] takes one
// reading's canonical JSON, encoded once and shared by every receiver, and
// appends it to the bounded queue of each client that selected its device
// (clients are indexed by device, plus a set of clients that want all
// devices, so a publish touches only interested clients). It never blocks.
//
// Each client has a writer goroutine that waits for the first queued
// message, then drains what is queued, up to Options.MaxFrameReadings
// readings or Options.MaxFrameBytes bytes, into one text frame
// (reading.AppendReadingsFrame). A client whose queue is full is
// disconnected with close code 3008 "slow" ([CloseSlow]), as in Centrifuge:
// it can reconnect and reload history, while the others are never held up.
//
// Frames from the hub are those of reading.Frame: readings frames and status
// frames. A new client first gets the current status; [Hub.SetStatus]
// broadcasts changes (live readings flowing or not, and why).
//
// A client may send one kind of message, a control message that replaces
// its selection:
//
//	{"type":"subscribe","devices":["greenhouse-1","shed"]}
//	{"type":"subscribe","all":true}
//
// A malformed one closes that client with 1008 (policy violation) and a
// binary one with 1003; the close frame's reason says what was wrong. A
// message over Options.MaxMessageSize is refused from its frame header,
// unread, with 1009 and no reason (gorilla/websocket sends that close
// frame itself).
//
// A [Source] feeds a hub ([Hub.Run]): it delivers readings and says whether
// they flow, which the hub passes on as status frames, and reports its
// readiness. fanout/redissource relays Redis Pub/Sub (the cloud);
// [MemorySource] is fed in process (the edge, tests). The package imports
// nothing from Redis or the store.
//
// Metrics come from [Hub.Stats] and [Hub.Collector], named under the
// caller's namespace; the caller registers them.
package fanout
