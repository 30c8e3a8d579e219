// Package gpioin reads a digital input on a GPIO pin (a door or window
// contact, a PIR motion detector, any switch) as a sensors.Sensor that is
// also a sensors.Watcher: Read returns the debounced state as 0 or 1, and
// Watch reports each debounced change as it happens.
//
//	s, err := gpioin.Open("GPIO17", gpioin.Options{Name: "front-door", Metric: sensors.MetricDoor})
//	samples, err := s.Read(ctx)           // door 0 (closed) or 1 (open)
//	err = s.Watch(ctx, func(ss []sensors.Sample) { ... }) // each change
//
// On a Raspberry Pi, main calls periph's host.Init() first, which
// registers the SoC's pins with gpioreg ("GPIO17", also "P1_11" by header
// position); in simulation, sim/gpiosim registers emulated pins the same
// way. New takes a gpio.PinIn directly.
//
// # Wiring (Raspberry Pi)
//
// The Pi's GPIOs take 3.3 V at most: never connect a 5 V signal. Any free
// GPIO works; for example GPIO17 (header pin 11), GPIO27 (pin 13), GPIO22
// (pin 15), with ground on pin 9, 14 or 6.
//
//	Door/window reed switch (normally open, closed by the magnet)
//	  one wire       GPIOxx
//	  other wire     GND
//	  Options        Pull: gpio.PullUp (default), Metric: sensors.MetricDoor
//	  reads          low (0, closed) when shut, high (1, open) when opened
//
//	HC-SR501 PIR module
//	  VCC            pin 2 or 4 (5 V; the module has a 3.3 V regulator)
//	  OUT            GPIOxx (it drives 3.3 V high on motion)
//	  GND            pin 6
//	  Options        Pull: gpio.PullDown or gpio.Float, Metric: sensors.MetricMotion
//	  pots/jumper    see sim.MotionOptions: hold time, lockout, H/L trigger
//
// The SoC's internal pull resistors are weak (50 to 65 kΩ). For a contact
// at the end of a long cable, add an external 4.7 to 10 kΩ pull-up to
// 3.3 V (pin 1) and, against induced spikes, 100 nF from the pin to ground;
// then Pull may be gpio.Float.
//
// # Debounce
//
// A reed switch or push button bounces for 1 to 10 ms when it closes; a
// PIR's output is clean. The driver counts a level only once it has held,
// with no edge, for Options.Debounce (50 ms by default). It uses the
// kernel's edge events (periph's WaitForEdge on the GPIO character device)
// and never polls the level in a loop; it re-reads the level every
// Options.Poll (100 ms) in case an edge was lost, and to notice that its
// context ended. The kernel's own debounce (gpio-cdev v2's
// debounce_period_us) is not exposed by periph, so debouncing is done here.
//
// # Errors
//
// Open fails with sensors.ErrNoDevice when no pin has the name (host.Init
// not run, a typo, a pin number the board lacks); New with sensors.ErrBus
// when the pin cannot be made an input. A GPIO level cannot fail to read,
// so Read fails only when its context ends. A pin that cannot detect
// edges still reads; Watch then returns the reason and the agent relies
// on Read.
package gpioin
