package reading

import (
	"encoding/json"
	"fmt"
)

// Frame types sent by the cloud on its WebSocket stream.
const (
	FrameReadings = "readings" // Readings holds one or more readings, oldest first
	FrameStatus   = "status"   // Status says whether the cloud is receiving live data
	// FrameCommand carries a command's progress (package command): the
	// command as recorded, in Command, or one of its state changes, in
	// CommandStatus. Frame keeps both undecoded; package command decodes them.
	FrameCommand = "command"
)

// Frame is one WebSocket text frame from the cloud:
//
//	{"v":1,"type":"readings","readings":[{...},{...}]}
//	{"v":1,"type":"status","status":{"live":false,"reason":"redis: connection refused"}}
//
// Readings of a frame may come from several devices; within one device they
// are in the order Redis published them.
type Frame struct {
	V        int       `json:"v"`
	Type     string    `json:"type"`
	Readings []Reading `json:"readings,omitempty"`
	Status   *Status   `json:"status,omitempty"`
	// Command and CommandStatus are set in a FrameCommand frame:
	//	{"v":1,"type":"command","command":{...}}
	//	{"v":1,"type":"command","command_status":{...}}
	Command       json.RawMessage `json:"command,omitempty"`
	CommandStatus json.RawMessage `json:"command_status,omitempty"`
	// Local marks a Command given on the device itself, as the device
	// reported it (its sender's name is the device's word for it).
	Local bool `json:"local,omitempty"`
}

// Status tells a client whether live readings are flowing. After live goes
// from false to true, a client should reload history to fill the gap.
type Status struct {
	Live   bool   `json:"live"`
	Reason string `json:"reason,omitempty"`
}

// AppendReadingsFrame appends a readings frame holding the already encoded
// readings raw (each a canonical reading object) to b. The cloud encodes each
// reading once and shares the bytes among all the frames that carry it.
func AppendReadingsFrame(b []byte, raw [][]byte) []byte {
	b = append(b, `{"v":1,"type":"readings","readings":[`...)
	for i, r := range raw {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, r...)
	}
	return append(b, "]}"...)
}

// DecodeFrame parses a frame and validates every reading in it.
func DecodeFrame(data []byte) (Frame, error) {
	var f Frame
	if err := json.Unmarshal(data, &f); err != nil {
		return Frame{}, fmt.Errorf("frame: %w", err)
	}
	if f.V != Version {
		return Frame{}, fmt.Errorf("frame: %w %d", ErrVersion, f.V)
	}
	return f, nil
}
