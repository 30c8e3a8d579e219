// Package ds18b20 reads a Maxim (Analog Devices) DS18B20 1-wire
// temperature probe through the Linux kernel's 1-wire drivers, as a
// sensors.Sensor reporting temperature in °C.
//
//	ids, err := ds18b20.Scan("")                                   // ["28-0123456789ab"]
//	s, err := ds18b20.New(ds18b20.Options{Name: "tank", ID: ids[0]})
//	samples, err := s.Read(ctx)                                    // temperature 21.375 Cel
//
// # Datasheet
//
// https://www.analog.com/media/en/technical-documentation/data-sheets/DS18B20.pdf
//
// # Setup (Raspberry Pi)
//
// Enable the kernel's bit-banged 1-wire master in /boot/firmware/config.txt
// (/boot/config.txt before Bookworm) and reboot:
//
//	dtoverlay=w1-gpio            # data on GPIO4 (header pin 7)
//	dtoverlay=w1-gpio,gpiopin=17 # or another GPIO
//
// The kernel then searches the bus every 10 s and lists each probe under
// /sys/bus/w1/devices/28-<serial>/ with w1_slave (and, from Linux 5.10 on,
// temperature). The files are world-readable: the agent needs no group and
// no capability. Scan lists the probes; `edge scan` prints them.
//
// # Wiring
//
//	DS18B20 (TO-92, flat side facing you: GND, DQ, VDD; waterproof probes:
//	black GND, yellow or white DQ, red VDD)
//	  VDD   pin 1 (3.3 V)
//	  GND   pin 6
//	  DQ    GPIO4, pin 7
//	  4.7 kΩ from DQ to 3.3 V (one resistor per bus, at the Pi)
//
// Several probes share the three wires; each has its own 64-bit id. With
// long cables (over ~10 m) or many probes, lower the pull-up to 2.2 kΩ.
// Parasite power (VDD tied to GND, two wires) works through the kernel,
// which holds DQ high during the conversion (w1_therm's strong_pullup), but
// is the first suspect when probes read 85 °C.
//
// # What is read
//
// Reading w1_slave makes the kernel select the probe, start a conversion,
// wait for it (750 ms at 12-bit resolution, the default: 1/16 °C steps),
// read the 9-byte scratchpad and check its CRC, retrying on failure. The
// file holds the scratchpad, the CRC verdict and the temperature in m°C:
//
//	72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//	72 01 4b 46 7f ff 0e 10 57 t=23125
//
// The driver checks the verdict and the CRC itself, and that t= agrees
// with the scratchpad, and feeds the raw temperature word to a stuck
// detector. Where only the temperature file exists, it reads that.
//
// # Errors and errata
//
//   - 85.000 °C is the temperature register's power-on value: the probe
//     reset before converting (a weak pull-up, parasite power, a sagging
//     supply). It is reported as sensors.ErrOutOfRange unless the last good
//     reading was within 2 °C of 85, where it can be real.
//   - Nine zero bytes pass the CRC (crc=00 YES, t=0): the data line is
//     held low. sensors.ErrBus.
//   - Kernels before 5.10 print "crc=xx NO" when every retry failed
//     (sensors.ErrCRC); later kernels return an empty file instead
//     (sensors.ErrBus), as they do when the probe does not answer.
//   - An unplugged probe reads empty (or all 0xff and NO) until the
//     kernel's bus search drops it, after about ten searches (~100 s);
//     then its directory is gone: sensors.ErrNoDevice. When it is plugged
//     in again the kernel lists it within a search, and the next Read
//     reads it: the driver keeps no file open.
//   - -127 and 127 °C are other software's "disconnected" sentinels, and
//     anything outside -55..125 °C is beyond the chip: ErrOutOfRange.
//   - Counterfeit DS18B20s are common; they mostly work, some with worse
//     accuracy than the genuine ±0.5 °C (-10..85 °C) or failing in
//     parasite mode.
//
// # Why the kernel's sysfs files and not periph
//
// periph (host/v3 v3.8.5, devices/v3 v3.7.4) has a DS18B20 driver on
// its onewire.Bus, but no 1-wire bus master of its own for the Pi: 1-wire
// is bit-banged with microsecond timing that only the kernel's w1-gpio
// can keep. periph's onewire.Bus implementations are host/v3/netlink,
// which sends raw bus transactions to that same kernel master through the
// w1 netlink connector, and devices/v3/ds248x, an I²C-to-1-wire bridge
// chip. So the w1-gpio overlay is needed either way, and once it is loaded
// the kernel's w1_therm already drives every probe: it converts, waits,
// checks the CRC and retries, and applies the strong pull-up parasite
// probes need. Going through netlink instead would give that up: periph's
// netlink bus ignores the strong pull-up its own ds18b20 driver asks for
// (documented in host/v3/netlink), so parasite-powered probes read 85 °C;
// its Sense sleeps the conversion with no way to cancel it; and it needs
// an AF_NETLINK socket the service's sandbox must allow, where sysfs needs
// only a world-readable file. The files are also what a person checks
// with cat, and a fixture directory emulates them exactly in CI
// (sim/w1sim).
package ds18b20
