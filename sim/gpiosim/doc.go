// Package gpiosim emulates GPIO pins behind periph's gpio.PinIO, so that
// the real drivers (sensors/gpioin, sensors/pulse; actuators/gpioout,
// actuators/pwm) run unchanged in simulation and in tests: a driver opens the pin by name through gpioreg
// exactly as on a Raspberry Pi ("GPIO17" there, "SIM_GPIO17" here), and its
// In, Read and WaitForEdge calls reach an emulated pin instead of the
// kernel's GPIO character device.
//
// # What is emulated
//
// On a Pi, periph (host/v3 ≥ 3.8) detects edges through the GPIO character
// device (gpio-cdev, uAPI v2, package host/v3/gpioioctl): the kernel puts
// each edge the line was configured for into a per-line event FIFO of 16
// events, and each WaitForEdge reads one event. A Pin does the same:
//
//   - In(pull, edge) sets the pull resistor and which edges are queued, and
//     empties the queue (periph documents that In tries to).
//   - Each change of the level that matches the configured edges is queued;
//     edges are not lost when several happen between two WaitForEdge calls.
//     When the queue is full the oldest event is dropped, as the kernel does
//     (Stats.Dropped counts them).
//   - WaitForEdge takes one event from the queue, or blocks until one comes
//     or the timeout passes; a negative timeout waits forever (periph's
//     contract; note that gpioioctl itself treats 0 as forever and a
//     negative timeout as no wait: drivers should always pass a positive
//     one). It returns false at once if the pin is not configured for
//     edges, as gpioioctl does, and returns false to a waiter when In or
//     Halt is called meanwhile.
//   - Read returns the level now, not that of the edge just taken: like
//     gpioioctl, the emulation gives no edge kind or timestamp.
//   - Wiring decides how the source and the pull resistor make the level:
//     a push-pull output (a PIR module, a hall-effect flow sensor) drives
//     both levels; a contact to ground (a door reed switch, a rain gauge)
//     pulls the pin low when closed and leaves it to the pull resistor when
//     open, so a driver that forgets its pull-up reads a dead pin here too.
//
// The older sysfs interface (/sys/class/gpio) keeps one "changed" flag
// instead of a queue, so several edges collapse into one; drivers that
// re-read the level after each edge, as ours do, work with both.
//
// Not emulated: the kernel's own debounce (not exposed by periph), edge
// timestamps.
//
// # Outputs
//
// Out and PWM make the pin an output (until In makes it an input again),
// as on a Pi. Every successful call is recorded with the emulator's time:
// Output and Level say what is driven now, Changes and Levels the history
// (bounded by Options.LogSize), so that a test asserts exact pin levels,
// an active-low relay board's included (on = Low). Options.OnOutput lets
// the simulator follow the pin (a heater relay warms a sim.Climate).
// SetOutFault makes Out and PWM fail, as a broken driver transistor
// would, to test what a controller does then; SetStuck freezes the level
// on the wire while the driver's calls still succeed and are recorded.
//
// # Driving a pin
//
// Tests and the simulator change the level with Set, emit pulses with
// Pulse (a reed switch closing, with bounce), inject faults (SetStuck: the
// pin stops changing, as with a broken wire; Chatter: a bounce storm from a
// loose contact), or let a model drive the pin: FollowLevel with
// DoorLevel(*sim.Door) or MotionLevel(*sim.Motion), FollowCount with
// RainCount(*sim.Rain).
//
// # Time
//
// By default a Pin runs in real time. With Options.Clock, every delay of
// Pulse, Chatter and the Follow functions advances a virtual Clock instead
// of sleeping, in lockstep with the pin's consumer: before the clock moves,
// the emulator waits (WaitIdle) until every queued edge has been taken and
// the consumer waits for the next one. A driver reading the same Clock
// then sees each edge at its exact virtual time, whatever the machine's
// load, so tests can count thousands of pulses exactly in milliseconds.
//
// # Registration
//
// Register puts a pin in periph's global gpioreg under its name, and
// Unregister takes it out; tests use a unique name per test and
// Unregister in t.Cleanup.
package gpiosim
