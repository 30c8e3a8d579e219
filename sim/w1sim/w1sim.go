// Package w1sim emulates the Linux kernel's 1-wire sysfs tree for DS18B20
// temperature probes, so that the real driver (sensors/ds18b20) reads files
// exactly as it does under /sys/bus/w1/devices on a Raspberry Pi, in a
// directory of the test's or the simulator's choosing.
//
// A Tree is one w1 bus master's view: a directory holding w1_bus_master1/
// and one directory per probe, named by its id ("28-0123456789ab"), with
// the files the kernel's w1_therm driver offers:
//
//   - w1_slave: the scratchpad as the kernel prints it after a conversion,
//     two lines:
//     72 01 4b 46 7f ff 0e 10 57 : crc=57 YES
//     72 01 4b 46 7f ff 0e 10 57 t=23125
//   - temperature (Linux 5.10 and later): "23125\n", millidegrees Celsius.
//   - name: the id.
//
// Each probe's temperature comes from a function of time (Fixed, or
// ClimateTemperature from a sim.Climate); Update rewrites every probe's
// files for a moment, Run does so periodically. Files are replaced
// atomically (written aside, then renamed), so a reader never sees half a
// file. On a Pi each read of w1_slave triggers a conversion (750 ms at 12
// bits); here the files hold the result of the last Update.
//
// Faults reproduce what the kernel shows when a probe misbehaves: a
// scratchpad failing its CRC ("crc=.. NO", as kernels before 5.10 print
// it), an empty file (newer kernels, when five attempts all fail), the
// power-on value 85 °C, a data line shorted to ground (all zeros, which
// pass the CRC), a truncated file, a frozen value, and a probe that
// vanished (the kernel removed its directory).
package w1sim

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tributary-iot/tributary/sim"
)

// Fault is a misbehaviour of one probe, as the kernel's files show it.
type Fault int

const (
	// OK: the probe converts and reads correctly.
	OK Fault = iota
	// CRCError: the scratchpad read fails its CRC on every attempt, as a
	// long or noisy cable causes; w1_slave shows "crc=xx NO" (kernels
	// before 5.10 print this line) and temperature is empty.
	CRCError
	// Empty: the kernel could not read a valid scratchpad in five attempts
	// (no presence pulse, CRC failures) and, as Linux 5.10 and later do,
	// returns an empty w1_slave and temperature.
	Empty
	// PowerOnReset: the probe answers with its power-on scratchpad, 85 °C,
	// having reset during the conversion (too weak a pull-up, parasite
	// power without the strong pull-up, a brown-out).
	PowerOnReset
	// Shorted: the data line is held low; every bit reads 0, and nine zero
	// bytes pass the CRC: "00 00 ... : crc=00 YES", t=0.
	Shorted
	// Truncated: w1_slave is cut short in its first line.
	Truncated
	// Stuck: the temperature freezes at its value when the fault is set.
	Stuck
	// Vanished: the probe's directory is gone, as when the kernel's
	// periodic bus search has not found it for a while (unplugged).
	// Clearing the fault brings it back.
	Vanished
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case CRCError:
		return "crc-error"
	case Empty:
		return "empty"
	case PowerOnReset:
		return "power-on-reset"
	case Shorted:
		return "shorted"
	case Truncated:
		return "truncated"
	case Stuck:
		return "stuck"
	case Vanished:
		return "vanished"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Files says which attribute files a probe's directory holds.
type Files int

const (
	// AllFiles: w1_slave and temperature, as Linux 5.10 and later.
	AllFiles Files = iota
	// W1SlaveOnly: only w1_slave, as older kernels.
	W1SlaveOnly
	// TemperatureOnly: only temperature (no kernel does this; it tests a
	// driver's fallback).
	TemperatureOnly
)

// powerOnScratchpad is the DS18B20's scratchpad at power-on: 85 °C, the
// alarm registers and 12-bit resolution from EEPROM as shipped.
var powerOnScratchpad = [9]byte{0x50, 0x05, 0x4b, 0x46, 0x7f, 0xff, 0x0c, 0x10, 0x1c}

// MasterDir is the bus master's entry in the tree, as on a Pi with one
// w1-gpio overlay.
const MasterDir = "w1_bus_master1"

var validID = regexp.MustCompile(`^[0-9a-f]{2}-[0-9a-f]{12}$`)

// Tree is an emulated /sys/bus/w1/devices. It is safe for concurrent use.
type Tree struct {
	root string

	mu     sync.Mutex
	probes map[string]*probe
	now    time.Time // of the last Update
}

type probe struct {
	id       string
	temp     func(time.Time) float64
	files    Files
	fault    Fault
	frozen   float64 // the temperature held by Stuck
	lastGood [9]byte // the kernel's family_data: the last scratchpad that passed the CRC
	present  bool    // the directory exists
}

// New returns a tree rooted at dir, creating dir and the bus master's
// entry. dir is typically t.TempDir() or a directory the simulator owns.
func New(dir string) (*Tree, error) {
	if err := os.MkdirAll(filepath.Join(dir, MasterDir), 0o755); err != nil {
		return nil, fmt.Errorf("w1sim: %w", err)
	}
	return &Tree{root: dir, probes: map[string]*probe{}}, nil
}

// Root returns the tree's directory: the driver's Root option.
func (t *Tree) Root() string { return t.root }

// Fixed is a temperature function that always returns c °C.
func Fixed(c float64) func(time.Time) float64 {
	return func(time.Time) float64 { return c }
}

// ClimateTemperature is a temperature function following c's air
// temperature plus offset °C (a probe in the shade, in soil, in a pipe).
func ClimateTemperature(c *sim.Climate, offset float64) func(time.Time) float64 {
	return func(t time.Time) float64 { return c.At(t).Temperature + offset }
}

// Add puts a probe with the given id ("28-0123456789ab") on the bus, its
// temperature given by temp (°C at a time), and writes its files for the
// time of the last Update: the zero time before the first, so call Update
// first if temp depends on the time.
func (t *Tree) Add(id string, temp func(time.Time) float64, files Files) error {
	if !validID.MatchString(id) {
		return fmt.Errorf("w1sim: invalid id %q, want family-serial such as 28-0123456789ab", id)
	}
	if temp == nil {
		return errors.New("w1sim: nil temperature function")
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if _, ok := t.probes[id]; ok {
		return fmt.Errorf("w1sim: probe %s already on the bus", id)
	}
	p := &probe{id: id, temp: temp, files: files}
	t.probes[id] = p
	return t.write(p)
}

// IDs returns the ids of the probes on the bus, vanished ones included,
// sorted.
func (t *Tree) IDs() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	ids := make([]string, 0, len(t.probes))
	for id := range t.probes {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	return ids
}

// SetFault makes probe id misbehave as f from now on, or behave again with
// OK, and rewrites its files at once.
func (t *Tree) SetFault(id string, f Fault) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	p, ok := t.probes[id]
	if !ok {
		return fmt.Errorf("w1sim: no probe %s", id)
	}
	if f == Stuck && p.fault != Stuck {
		p.frozen = p.temp(t.now)
	}
	p.fault = f
	return t.write(p)
}

// Update rewrites every probe's files for time now.
func (t *Tree) Update(now time.Time) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.now = now
	var errs []error
	for _, p := range t.probes {
		errs = append(errs, t.write(p))
	}
	return errors.Join(errs...)
}

// Run calls Update every interval (default a second) with the time now
// returns (nil: time.Now) until ctx ends, then returns ctx's error; or it
// returns the first error of Update.
func (t *Tree) Run(ctx context.Context, interval time.Duration, now func() time.Time) error {
	if now == nil {
		now = time.Now
	}
	if interval <= 0 {
		interval = time.Second
	}
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		if err := t.Update(now()); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// write renders p's files for t.now; t.mu held.
func (t *Tree) write(p *probe) error {
	dir := filepath.Join(t.root, p.id)
	if p.fault == Vanished {
		p.present = false
		if err := os.RemoveAll(dir); err != nil {
			return fmt.Errorf("w1sim: remove %s: %w", p.id, err)
		}
		return nil
	}
	if !p.present {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return fmt.Errorf("w1sim: %w", err)
		}
		if err := writeFile(dir, "name", p.id+"\n"); err != nil {
			return err
		}
		p.present = true
	}
	c := p.frozen
	if p.fault != Stuck {
		c = p.temp(t.now)
	}
	slave, temperature := p.render(c)
	if p.files != TemperatureOnly {
		if err := writeFile(dir, "w1_slave", slave); err != nil {
			return err
		}
	}
	if p.files != W1SlaveOnly {
		if err := writeFile(dir, "temperature", temperature); err != nil {
			return err
		}
	}
	return nil
}

// render returns the contents of w1_slave and temperature for a probe at c
// °C, as w1_therm prints them, given p's fault.
func (p *probe) render(c float64) (slave, temperature string) {
	var rom [9]byte
	switch p.fault {
	case PowerOnReset:
		rom = powerOnScratchpad
	case Shorted:
		// all zeros
	case Empty:
		return "", ""
	default:
		rom = Scratchpad(c)
	}
	crc := CRC8(rom[:8])
	verdict := rom[8] == crc
	if p.fault == CRCError {
		rom[0] ^= 0x04 // a bit flipped on the wire: the CRC byte no longer matches
		crc = CRC8(rom[:8])
		verdict = false
	}
	if verdict {
		p.lastGood = rom
	}
	var b strings.Builder
	for _, x := range rom {
		fmt.Fprintf(&b, "%02x ", x)
	}
	yes := "YES"
	if !verdict {
		yes = "NO"
	}
	fmt.Fprintf(&b, ": crc=%02x %s\n", crc, yes)
	for _, x := range p.lastGood {
		fmt.Fprintf(&b, "%02x ", x)
	}
	// Like the kernel, t= is computed from the scratchpad just read, even
	// when it failed its CRC.
	milli := Millidegrees(rom)
	fmt.Fprintf(&b, "t=%d\n", milli)
	slave = b.String()
	if p.fault == Truncated {
		slave = slave[:len(slave)/4]
	}
	if verdict {
		temperature = fmt.Sprintf("%d\n", milli)
	}
	return slave, temperature
}

// Scratchpad returns the nine bytes a DS18B20 at 12-bit resolution holds
// after converting c °C: the temperature in 1/16 °C (two's complement,
// little-endian), the alarm registers as shipped (TH 75, TL 70), the
// configuration (12 bits), the reserved bytes and the CRC. Out-of-range
// temperatures are encoded as given, as a faulty chip might.
func Scratchpad(c float64) [9]byte {
	raw := int16(math.Max(math.MinInt16, math.Min(math.MaxInt16, math.Round(c*16))))
	r := [9]byte{byte(raw), byte(uint16(raw) >> 8), 0x4b, 0x46, 0x7f, 0xff, byte(0x10 - raw&0x0f), 0x10}
	r[8] = CRC8(r[:8])
	return r
}

// Millidegrees is the temperature in a DS18B20 scratchpad in m°C, computed
// as the kernel does (raw × 1000 / 16, truncated towards zero).
func Millidegrees(rom [9]byte) int {
	raw := int16(uint16(rom[0]) | uint16(rom[1])<<8)
	return int(raw) * 1000 / 16
}

// CRC8 is the Maxim 1-wire CRC (x⁸ + x⁵ + x⁴ + 1, reflected, initial 0)
// of b.
func CRC8(b []byte) byte {
	var crc byte
	for _, x := range b {
		for range 8 {
			mix := (crc ^ x) & 1
			crc >>= 1
			if mix != 0 {
				crc ^= 0x8c
			}
			x >>= 1
		}
	}
	return crc
}

// writeFile replaces dir/name with content atomically.
func writeFile(dir, name, content string) error {
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, []byte(content), 0o644); err != nil {
		return fmt.Errorf("w1sim: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		return fmt.Errorf("w1sim: %w", err)
	}
	return nil
}
