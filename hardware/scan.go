package hardware

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/host/v3"

	"github.com/tributary-iot/tributary/sensors"
	"github.com/tributary-iot/tributary/sensors/ds18b20"
)

// How to enable what scan found missing (Raspberry Pi OS).
const (
	enableI2C = "enable it with `sudo raspi-config nonint do_i2c 0` (or add dtparam=i2c_arm=on to /boot/firmware/config.txt) and reboot"
	enableW1  = "enable it with `sudo raspi-config nonint do_onewire 0` (or add dtoverlay=w1-gpio to /boot/firmware/config.txt: data on GPIO4, pin 7) and reboot"
)

// ScanOptions say what Scan scans. The zero value scans the board.
type ScanOptions struct {
	// W1Dir is where the kernel lists 1-wire devices; default DefaultW1Dir.
	W1Dir string
	// Sim scans an emulated board instead of the board's hardware: one
	// chip of each kind on bus 1 and a DS18B20 (so that scan can be tried,
	// and tested, anywhere).
	Sim bool
}

// Scan lists the I²C buses, probes every address of every supported chip
// on each, lists the DS18B20 probes the kernel's 1-wire driver found, and
// writes all that to w with a ready-to-paste sensors: snippet.
//
// It returns an error when it found no sensor, saying why: no I²C bus
// (not a Pi, or I²C not enabled), permission denied (the group to join),
// or nothing answering.
func Scan(ctx context.Context, w io.Writer, o ScanOptions) error {
	w1Dir := cmp.Or(o.W1Dir, DefaultW1Dir)
	if o.Sim {
		sh, err := scanBoard()
		if err != nil {
			return fmt.Errorf("scan: %w", err)
		}
		defer sh.close()
		if d := sh.w1Dir(); d != "" {
			w1Dir = d
		}
	} else if _, err := host.Init(); err != nil {
		fmt.Fprintf(w, "warning: periph host.Init: %v\n", err)
	}
	return scan(ctx, w, w1Dir, o.Sim)
}

// scanBoard is the emulated board Scan scans with Sim: on bus 1 a BME280 at
// 0x76, an SHT3x at 0x44, an SHT4x at 0x45 (an address the two families
// share), a BH1750 at 0x23, an ADS1115 at 0x48 with a soil probe on AIN0;
// and a DS18B20 on 1-wire, in a temporary directory. It is registered with
// periph as a board's would be.
func scanBoard() (*simHardware, error) {
	w := newSimWorld("scan", time.Now)
	var specs []spec
	for _, c := range scanBoardSensors {
		d, _ := lookupDriver(c.Driver)
		sp, errs := c.spec(d, nil)
		if len(errs) > 0 {
			return nil, fmt.Errorf("emulated board: %s: %s", c.Name, errs[0].Msg)
		}
		specs = append(specs, sp)
	}
	sh := emulate(w, specs)
	if err := sh.register(); err != nil {
		sh.close()
		return nil, err
	}
	return sh, nil
}

// scanBoardSensors is what scanBoard emulates.
var scanBoardSensors = []SensorConfig{
	{Name: "air", Driver: "bme280", Address: "0x76"},
	{Name: "air2", Driver: "sht3x", Address: "0x44"},
	{Name: "air3", Driver: "sht4x", Address: "0x45"},
	{Name: "light", Driver: "bh1750", Address: "0x23"},
	{Name: "soil", Driver: "ads1115", Address: "0x48", Metric: "moisture"},
	{Name: "probe", Driver: "ds18b20", ID: "28-0316a2795bff"},
}

// found is one sensor scan found, as a snippet entry.
type found struct {
	driver string
	bus    string
	addr   uint16
	id     string
}

func scan(ctx context.Context, w io.Writer, w1Dir string, simulated bool) error {
	var all []found
	var problems []string
	refs := i2creg.All()
	fmt.Fprintf(w, "I²C buses:\n")
	if len(refs) == 0 {
		msg := "no I²C bus found: not a Raspberry Pi, or I²C is not enabled: " + enableI2C
		fmt.Fprintf(w, "  none: %s\n", msg)
		problems = append(problems, msg)
	}
	for _, ref := range refs {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		name := ref.Name
		if ref.Number >= 0 {
			name = fmt.Sprintf("%d", ref.Number)
		}
		fmt.Fprintf(w, "  bus %s (%s)\n", name, ref.Name)
		b, err := ref.Open()
		if err != nil {
			msg := fmt.Sprintf("cannot open I²C bus %s: %v", name, err)
			if errors.Is(err, os.ErrPermission) || strings.Contains(err.Error(), "permission denied") {
				msg = fmt.Sprintf("permission denied on I²C bus %s: add your user to group i2c (sudo usermod -aG i2c $USER, then log in again) or run as a member of it", name)
			}
			fmt.Fprintf(w, "    %s\n", msg)
			problems = append(problems, msg)
			continue
		}
		fs := probeBus(w, b, name)
		b.Close()
		all = append(all, fs...)
	}

	if simulated {
		fmt.Fprintf(w, "\n1-wire (emulated %s):\n", DefaultW1Dir)
	} else {
		fmt.Fprintf(w, "\n1-wire (%s):\n", w1Dir)
	}
	ids, err := ds18b20.Scan(w1Dir)
	switch {
	case errors.Is(err, sensors.ErrNoDevice):
		fmt.Fprintf(w, "  not enabled: %s\n", enableW1)
	case err != nil:
		fmt.Fprintf(w, "  cannot list: %v\n", err)
	case len(ids) == 0:
		fmt.Fprintf(w, "  no DS18B20 found (the bus master is there: check the probe's wiring and its 4.7 kΩ pull-up)\n")
	}
	for _, id := range ids {
		fmt.Fprintf(w, "  %s  DS18B20 (family 28)\n", id)
		all = append(all, found{driver: "ds18b20", id: id})
	}
	fmt.Fprintf(w, "\nGPIO inputs (door contacts, PIR motion, pulse counters) cannot be detected: add them by pin (see firmware-notes/README.md).\n")

	if len(all) == 0 {
		if len(problems) == 0 {
			problems = append(problems, "nothing answered: check the wiring, the power (3.3 V) and the pull-ups")
		}
		return fmt.Errorf("scan: no sensor found: %s", strings.Join(problems, "; "))
	}
	fmt.Fprintf(w, "\nPaste into the configuration file (names are yours to choose):\n\n")
	writeSnippet(w, all)
	if simulated {
		fmt.Fprintf(w, "\n(emulated hardware: edge scan --sim)\n")
	}
	return nil
}

// probeBus tries every address of every supported chip on b and reports
// what answers. Where chips share an address (an SHT3x and an SHT4x at
// 0x44 and 0x45) each one's identification is tried, in the order of the
// driver table, until one recognises the chip; only when none does is the
// address reported as something else (or as an error while probing).
func probeBus(w io.Writer, b i2c.Bus, bus string) []found {
	byAddr := map[uint16][]Driver{}
	var addrs []uint16
	seen := map[string]bool{}
	for _, d := range drivers {
		c := d.i2c()
		if c.identify == nil || seen[fmt.Sprint(c.addrs)] {
			continue // bmp280 shares bme280's addresses and identification
		}
		seen[fmt.Sprint(c.addrs)] = true
		for _, a := range c.addrs {
			if byAddr[a] == nil {
				addrs = append(addrs, a)
			}
			byAddr[a] = append(byAddr[a], d)
		}
	}
	slices.Sort(addrs)
	var out []found
	any := false
	for _, a := range addrs {
		f, ok := probeAddr(w, b, bus, a, byAddr[a])
		if f != nil {
			out = append(out, *f)
		}
		any = any || ok
	}
	if !any {
		fmt.Fprintf(w, "    no supported chip answered\n")
	}
	var list []string
	for _, a := range addrs {
		list = append(list, fmt.Sprintf("%#02x", a))
	}
	fmt.Fprintf(w, "    (probed %s)\n", strings.Join(list, " "))
	return out
}

// probeAddr tries the identification of each driver of ds at addr and
// prints what it found: the chip the first one recognises (returned), or
// else the probing errors, or else that something else answered.
// answered is false when nothing at all answered at addr.
func probeAddr(w io.Writer, b i2c.Bus, bus string, addr uint16, ds []Driver) (f *found, answered bool) {
	type failure struct {
		d   Driver
		err error
	}
	var failed []failure
	var others []string // drivers whose identification saw another chip
	for _, d := range ds {
		model, err := d.i2c().identify(b, addr)
		switch {
		case errors.Is(err, sensors.ErrNoDevice):
			continue
		case err != nil:
			failed = append(failed, failure{d, err})
		case model == "":
			others = append(others, d.Name)
		default:
			drv := strings.ToLower(model)
			if _, ok := lookupDriver(drv); !ok {
				drv = d.Name
			}
			fmt.Fprintf(w, "    %#02x  %-8s %s\n", addr, model, d.i2c().identifiedBy)
			return &found{driver: drv, bus: bus, addr: addr}, true
		}
	}
	for _, fl := range failed {
		fmt.Fprintf(w, "    %#02x  %s?  error while probing: %v\n", addr, fl.d.Name, fl.err)
	}
	if len(failed) == 0 && len(others) > 0 {
		names := strings.Join(others, " or ")
		fmt.Fprintf(w, "    %#02x  something answered, but not as a %s does (another chip at a %s address)\n", addr, names, names)
	}
	return nil, len(failed) > 0 || len(others) > 0
}

// writeSnippet prints the sensors: entries for what scan found.
func writeSnippet(w io.Writer, fs []found) {
	fmt.Fprintf(w, "sensors:\n")
	names := map[string]int{}
	for _, f := range fs {
		name := f.driver
		switch {
		case f.id != "":
			name = "probe-" + f.id[len(f.id)-4:]
		case f.addr != 0:
			name = fmt.Sprintf("%s-%02x", f.driver, f.addr)
			if f.bus != defaultBus {
				name = fmt.Sprintf("%s-%s-%02x", f.driver, f.bus, f.addr)
			}
		}
		names[name]++
		if n := names[name]; n > 1 {
			name = fmt.Sprintf("%s-%d", name, n)
		}
		fmt.Fprintf(w, "  - name: %s\n    driver: %s\n", name, f.driver)
		if f.id != "" {
			fmt.Fprintf(w, "    id: %s\n    interval: 10s\n", f.id)
			continue
		}
		fmt.Fprintf(w, "    bus: %q\n    address: %#02x\n", f.bus, f.addr)
		switch f.driver {
		case "ads1115":
			fmt.Fprintf(w, "    channel: \"0\"        # AIN0..AIN3: \"0\"..\"3\"; one entry per channel in use\n")
			fmt.Fprintf(w, "    metric: voltage     # or moisture, for a capacitive soil probe (dry_volts, wet_volts)\n")
		case "bh1750":
			fmt.Fprintf(w, "    interval: 1s\n")
		}
	}
}
