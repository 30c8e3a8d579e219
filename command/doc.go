// Package command is Tributary's contract for commands to a device's
// actuators: what a command is, the states it goes through, the reasons it
// can be refused, and how an actuator describes itself. Like package
// reading, it is vocabulary only: it imports nothing from periph, Redis,
// MQTT or HTTP, so the cloud, the bridge, the edge and scripts share it.
//
// # A command's life
//
// A sender (an operator on the dashboard, a script through the REST API,
// a technician on the edge's own dashboard) chooses an id, a target
// actuator, a value and a deadline. The cloud records the command with who
// sent it and when (By, At) and hands it to the device's uplink. The edge
// decides, under the limits of its own configuration, which the cloud
// cannot override, and reports each state change as a [Status]:
//
//	accepted  the edge has recorded the id: it will never run it twice
//	applied   the actuator is at the command's value (Status.Value)
//	refused   never applied; Reason says why (out of range, interlock, ...)
//	expired   its deadline passed before it could be applied: a command is
//	          never executed late
//	failed    the hardware would not take the value (Reason, Detail)
//
// refused, expired and failed and applied are final. A command delivered
// again (a redelivery, a retry) is not run again: the edge answers with the
// outcome it recorded.
//
// # Wire format, version 1
//
//	{"v":1,"id":"c-7f3a","device":"greenhouse-1","actuator":"heater","value":1,
//	 "deadline":"2026-12-03T18:00:30.000Z","by":"alice","at":"2026-12-03T18:00:00.000Z"}
//
//	{"v":1,"id":"c-7f3a","device":"greenhouse-1","actuator":"heater","state":"applied",
//	 "value":1,"ts":"2026-12-03T18:00:00.412Z"}
//
// Times are RFC 3339 UTC with milliseconds, as in package reading. Unknown
// fields are an error. Ids, devices and actuators follow reading.ValidID.
package command
