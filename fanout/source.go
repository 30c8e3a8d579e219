package fanout

import (
	"context"
	"time"
)

// A Source feeds a hub with live readings and says whether they flow. The
// Redis relay (fanout/redissource) is one; [MemorySource] is fed in process.
type Source interface {
	// Run delivers readings and status changes to sink until ctx is done,
	// then returns nil. An error means the source cannot go on.
	Run(ctx context.Context, sink Sink) error
	// Ready returns nil while live readings flow, and otherwise why not, in
	// words fit for unauthenticated clients. It is safe for concurrent use.
	Ready() error
}

// A Sink takes what a Source delivers. *Hub is a Sink. Its methods never
// block and are safe for concurrent use.
type Sink interface {
	// Publish delivers one reading of device stamped ts (its own time;
	// zero if unknown). raw is the reading's canonical JSON, which neither
	// side modifies afterwards.
	Publish(device string, ts time.Time, raw []byte)
	// PublishEvent delivers one complete frame about device (a command's
	// progress: reading.FrameCommand) to every client that selected device,
	// in order with its readings. frame is not modified afterwards.
	PublishEvent(device string, frame []byte)
	// SetStatus says whether live readings flow, and if not, why.
	SetStatus(live bool, reason string)
}

// Run feeds the hub from src until ctx is done or src fails, then marks the
// hub not live and returns src's error. Run one source at a time.
func (h *Hub) Run(ctx context.Context, src Source) error {
	err := src.Run(ctx, h)
	reason := "server shutting down"
	if ctx.Err() == nil {
		reason = "live feed stopped"
	}
	h.SetStatus(false, reason)
	return err
}
