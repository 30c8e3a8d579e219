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
