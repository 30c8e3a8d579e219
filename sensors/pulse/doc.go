// Package pulse counts pulses on a GPIO pin (a tipping-bucket rain gauge,
// a flow meter, a reed-switch anemometer) as a sensors.Sensor reporting a
// cumulative count and a rate, both scaled to a physical unit.
//
//	c, err := pulse.Open("GPIO6", pulse.Options{Name: "rain", Scale: 0.2794, Unit: "mm", RatePer: time.Hour})
//	defer c.Close()
//	samples, err := c.Read(ctx) // count 12.573 mm, rate 2.79 mm/h
//
// A goroutine started by New waits for the kernel's edge events and counts
// them; Read only takes the count. Counting never polls the level.
//
// # Wiring (Raspberry Pi) and options
//
// The Pi's GPIOs take 3.3 V at most. Any free GPIO works (GPIO5, 6, 13,
// 19, 26 on header pins 29, 31, 33, 35, 37; ground on pin 39).
//
//	Tipping-bucket rain gauge (Misol WH-SP-RG, SparkFun weather meters)
//	  the reed switch's two wires (the RJ11's two middle pins)
//	                 one to GPIOxx, the other to GND
//	  Options        Scale: 0.2794, Unit: "mm", RatePer: time.Hour (rate in mm/h)
//	                 MinSpacing: 10 ms (default; the switch bounces ~1 ms)
//
//	Cup anemometer with a reed switch (same kits: one closing per turn)
//	  wiring         as the rain gauge
//	  Options        Scale: 0.667, Unit: "m" (2.4 km/h per Hz: 0.667 m of
//	                 wind per pulse), rate in m/s; MinSpacing: 5 ms (a gale
//	                 of 100 km/h is 42 pulses/s)
//
//	YF-S201 hall-effect water flow sensor
//	  red            5 V (pin 2); black GND
//	  yellow         GPIOxx through a divider (10 kΩ to the sensor, 20 kΩ
//	                 to ground): the output swings to the supply
//	  Options        Scale: 1.0/450, Unit: "L", RatePer: time.Minute (L/min;
//	                 the datasheet's f = 7.5 × Q), Pull: gpio.Float,
//	                 MinSpacing: -1 (a clean output, up to ~225 Hz)
//
// For long cables to a reed switch add an external 10 kΩ pull-up to 3.3 V
// and 100 nF to ground at the Pi; the SoC's own pull-up (50 to 65 kΩ) is
// weak against induced spikes, each of which would count.
//
// # Debounce
//
// An edge sooner than MinSpacing after the last counted pulse is taken for
// bounce and ignored (Count reports how many). MinSpacing must be longer
// than the contact's bounce and shorter than the fastest real pulse period;
// if the contact also bounces when it opens (Edge counts only the closing,
// but a bounce on opening makes closing edges too), MinSpacing must also
// be longer than the time the contact stays closed. Pulses closer than
// MinSpacing merge: a chatter storm counts at most one pulse per
// MinSpacing.
//
// Edges are timed when the counting goroutine takes them from the kernel's
// queue: the GPIO character device stamps each event, but periph drops the
// stamp. On an overloaded machine, edges taken late in a burst look closer
// together than they were; the kernel's queue (16 events) keeps them from
// being lost up to that depth.
//
// # Errors
//
// Open fails with sensors.ErrNoDevice when no pin has the name; New with
// sensors.ErrBus when the pin cannot detect edges. Read cannot fail but
// for an ended context or a closed counter. A dead sensor (a broken wire)
// looks like no rain: the counter cannot tell.
package pulse
