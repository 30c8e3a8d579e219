package ds18b20

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/tributary-iot/tributary/reading"
	"github.com/tributary-iot/tributary/sensors"
)

// DefaultRoot is where the kernel lists 1-wire devices.
const DefaultRoot = "/sys/bus/w1/devices"

// Family is the 1-wire family code of the DS18B20, the prefix of its ids.
const Family = "28"

// Temperature range of the DS18B20 (datasheet, absolute limits of
// measurement), m°C.
const (
	MinMilli = -55000
	MaxMilli = 125000
)

// powerOnMilli is the temperature register's power-on value: 85 °C.
const powerOnMilli = 85000

// DefaultStuckAfter is how many identical readings in a row make a stuck
// probe when not told otherwise: an hour at a read a second. The DS18B20
// resolves 1/16 °C with little noise, so a probe in water or soil may show
// the very same value for many minutes; an hour is implausible outside a
// thermostat bath.
const DefaultStuckAfter = 3600

var validID = regexp.MustCompile(`^28-[0-9a-f]{12}$`)

// Options configure a Sensor. The zero value reads the only DS18B20 on the
// Pi's 1-wire bus; each field says its default.
type Options struct {
	// Name is the sensor's name (reading.ValidID). Default "ds18b20".
	Name string
	// ID is the probe's 1-wire id as the kernel names its directory,
	// "28-" and 12 hex digits of its serial number (e.g.
	// "28-0123456789ab"; the case does not matter). Default: the only
	// probe present when New runs (New fails if there are none or
	// several: list them with Scan).
	ID string
	// Root is the directory listing 1-wire devices. Default DefaultRoot;
	// tests and the simulator point it at an emulated tree (sim/w1sim).
	Root string
	// StuckAfter is how many identical readings in a row make a stuck
	// probe. Default DefaultStuckAfter; negative: never.
	StuckAfter int
}

// Sensor is a DS18B20 temperature probe read through the Linux kernel's
// 1-wire driver (w1-gpio and w1_therm), reporting temperature in °C.
//
// It holds no open file between reads: each Read opens the probe's files
// afresh, so a probe that vanished and came back is read again. It is
// safe for concurrent use; Reads are serialised.
type Sensor struct {
	name string
	id   string
	dir  string

	mu       sync.Mutex
	stuck    *sensors.StuckDetector // nil: no stuck check
	lastGood int                    // m°C of the last good reading
	haveGood bool
	pending  chan result // a read whose Read gave up on its context
}

// result is one read of the kernel's files.
type result struct {
	r   scratch
	err error
}

// New returns a sensor for the probe opt.ID under opt.Root. It fails with
// an error wrapping sensors.ErrNoDevice if the probe (or, without ID, any
// probe) is not there.
func New(opt Options) (*Sensor, error) {
	if opt.Name == "" {
		opt.Name = "ds18b20"
	}
	if !reading.ValidID(opt.Name) {
		return nil, fmt.Errorf("ds18b20: invalid sensor name %q", opt.Name)
	}
	if opt.Root == "" {
		opt.Root = DefaultRoot
	}
	id := strings.ToLower(opt.ID)
	if id == "" {
		ids, err := Scan(opt.Root)
		if err != nil {
			return nil, err
		}
		switch len(ids) {
		case 0:
			return nil, fmt.Errorf("ds18b20: no probe under %s: %w", opt.Root, sensors.ErrNoDevice)
		case 1:
			id = ids[0]
		default:
			return nil, fmt.Errorf("ds18b20: %d probes under %s (%s): say which with ID", len(ids), opt.Root, strings.Join(ids, ", "))
		}
	}
	if !validID.MatchString(id) {
		return nil, fmt.Errorf("ds18b20: invalid id %q, want 28- and 12 hex digits, as listed by Scan", opt.ID)
	}
	s := &Sensor{name: opt.Name, id: id, dir: filepath.Join(opt.Root, id)}
	switch {
	case opt.StuckAfter == 0:
		s.stuck = sensors.NewStuckDetector(DefaultStuckAfter)
	case opt.StuckAfter > 0:
		s.stuck = sensors.NewStuckDetector(opt.StuckAfter)
	}
	if _, err := os.Stat(s.dir); err != nil {
		return nil, fmt.Errorf("ds18b20 %s: %w", id, classify(err))
	}
	return s, nil
}

// Scan lists the DS18B20 probes the kernel sees under root (DefaultRoot if
// empty), as ids sorted, for `edge scan`. It fails with an error wrapping
// sensors.ErrNoDevice if root does not exist: no 1-wire bus master (the
// w1-gpio overlay is not enabled).
func Scan(root string) ([]string, error) {
	if root == "" {
		root = DefaultRoot
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("ds18b20: no 1-wire bus (%s missing: is dtoverlay=w1-gpio in config.txt?): %w", root, sensors.ErrNoDevice)
		}
		return nil, fmt.Errorf("ds18b20: scan: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if validID.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// Name returns the sensor's name.
func (s *Sensor) Name() string { return s.name }

// ID returns the probe's 1-wire id.
func (s *Sensor) ID() string { return s.id }

// Read returns the temperature in °C, one sample, to 1/16 °C.
//
// On a Pi the kernel converts when the file is read, which blocks for the
// conversion time (750 ms at 12-bit resolution). Read returns when ctx
// ends even so; the kernel's read then finishes in the background, and the
// next Read waits for it before starting its own.
//
// Errors wrap a kind of package sensors: ErrNoDevice when the probe's
// directory is gone (unplugged for longer than the kernel's bus search
// keeps it); ErrBus when the kernel returns an empty or garbled file (no
// answer, the CRC failing on every try in Linux 5.10 and later) or all
// zeros (the data line held low); ErrCRC when it reports the CRC failed;
// ErrOutOfRange for 85 °C, the power-on value (unless the last good
// reading was within 2 °C of it), and for anything outside -55..125 °C;
// ErrStuck when the raw value has not changed for StuckAfter reads.
func (s *Sensor) Read(ctx context.Context) ([]sensors.Sample, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.pending != nil {
		select {
		case <-s.pending:
			s.pending = nil
		case <-ctx.Done():
			return nil, fmt.Errorf("ds18b20 %s: the previous read is still running: %w", s.id, ctx.Err())
		}
	}
	ch := make(chan result, 1)
	go func() { ch <- s.readFiles() }()
	var res result
	select {
	case res = <-ch:
	case <-ctx.Done():
		s.pending = ch
		return nil, fmt.Errorf("ds18b20 %s: read: %w", s.id, ctx.Err())
	}
	if res.err != nil {
		return nil, fmt.Errorf("ds18b20 %s: %w", s.id, res.err)
	}
	if err := s.check(res.r); err != nil {
		return nil, fmt.Errorf("ds18b20 %s: %w", s.id, err)
	}
	return []sensors.Sample{{Metric: sensors.MetricTemperature, Value: float64(res.r.milli) / 1000, Unit: sensors.UnitCelsius}}, nil
}

// check applies the range and stuck checks to a reading that parsed;
// s.mu held.
func (s *Sensor) check(r scratch) error {
	m := r.milli
	switch {
	case m == powerOnMilli && !(s.haveGood && math.Abs(float64(s.lastGood-m)) <= 2000):
		return fmt.Errorf("85 °C, the power-on value: the probe reset before converting (pull-up too weak, parasite power, supply): %w", sensors.ErrOutOfRange)
	case m == -127000 || m == 127000:
		return fmt.Errorf("%d m°C, a disconnected-probe sentinel: %w", m, sensors.ErrOutOfRange)
	case m < MinMilli || m > MaxMilli:
		return fmt.Errorf("%.3f °C outside the DS18B20's -55..125 °C: %w", float64(m)/1000, sensors.ErrOutOfRange)
	}
	if s.stuck != nil {
		if err := s.stuck.Check(r.raw); err != nil {
			return err
		}
	}
	s.lastGood, s.haveGood = m, true
	return nil
}

// readFiles reads and parses the probe's w1_slave, or its temperature file
// if the kernel offers only that.
func (s *Sensor) readFiles() result {
	b, err := os.ReadFile(filepath.Join(s.dir, "w1_slave"))
	if err == nil {
		r, err := parseW1Slave(b)
		return result{r, err}
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return result{err: fmt.Errorf("read w1_slave: %w", classify(err))}
	}
	if _, derr := os.Stat(s.dir); derr != nil {
		return result{err: classify(derr)}
	}
	b, err = os.ReadFile(filepath.Join(s.dir, "temperature"))
	if err != nil {
		return result{err: fmt.Errorf("read temperature (no w1_slave): %w", classify(err))}
	}
	r, err := parseTemperature(b)
	return result{r, err}
}

// classify wraps a file error in its kind: a missing file or directory is
// no device, anything else (EIO, a permission problem) a bus error.
func classify(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("%w: %w", sensors.ErrNoDevice, err)
	}
	return fmt.Errorf("%w: %w", sensors.ErrBus, err)
}

var _ sensors.Sensor = (*Sensor)(nil)
