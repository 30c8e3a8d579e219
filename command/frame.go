package command

// AppendFrame appends e as a complete WebSocket frame of type
// reading.FrameCommand to b: {"v":1,"type":"command","command":{...}} for a
// command, {"v":1,"type":"command","command_status":{...}} for a status.
// It does not validate e.
func (e *Event) AppendFrame(b []byte) []byte {
	if e.Command != nil {
		b = append(b, `{"v":1,"type":"command","command":`...)
		b = e.Command.AppendJSON(b)
	} else {
		b = append(b, `{"v":1,"type":"command","command_status":`...)
		b = e.Status.AppendJSON(b)
	}
	return append(b, '}')
}

// AppendLocalFrame appends the frame of e, a command given on the device
// itself (reported by the device), to b:
// {"v":1,"type":"command","local":true,"command":{...}}. A dashboard shows
// it as given on the device, whatever name it carries. For a status it is
// AppendFrame.
func (e *Event) AppendLocalFrame(b []byte) []byte {
	if e.Command == nil {
		return e.AppendFrame(b)
	}
	b = append(b, `{"v":1,"type":"command","local":true,"command":`...)
	b = e.Command.AppendJSON(b)
	return append(b, '}')
}
