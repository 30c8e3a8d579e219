package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/hardware"
	"github.com/tributary-iot/tributary/internal/buildinfo"
	"github.com/tributary-iot/tributary/internal/cli"
	"github.com/tributary-iot/tributary/reading"
)

// Defaults of the flags.
const (
	defaultRedisURL      = "redis://127.0.0.1:6379"
	defaultMetricsListen = "127.0.0.1:9464"
)

// usageError is a mistake on the command line (exit status 2).
type usageError = cli.UsageError

// flags are the command line, before merging with the file.
type flags struct {
	fs                              *flag.FlagSet
	device                          string
	redis, mqtt                     cli.Conn
	config, stateDir, metricsListen string
	interval                        time.Duration
	sim, version, help              bool
	spool                           spoolFlags
	clock                           string
	drainRate                       float64
	logLevel                        *cli.LogLevel
	dash                            dashFlags // dashboard.go
}

func newFlags(stderr io.Writer) *flags {
	f := &flags{fs: flag.NewFlagSet("edge", flag.ContinueOnError), redis: cli.Conn{Name: "redis"}, mqtt: cli.Conn{Name: "mqtt"}}
	fs := f.fs
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprintln(stderr, "Run edge --help for the flags.") }
	fs.StringVar(&f.config, "config", "", "YAML configuration `file` (see edge.example.yaml); flags override it")
	fs.StringVar(&f.device, "device", "", "device `id` (default: the file's, else the host name)")
	fs.BoolVar(&f.sim, "sim", false, "simulate the hardware: every configured sensor's driver over an emulated chip (the simulated set when none is configured)")
	f.redis.Register(fs, "Redis `URL`, redis:// or rediss:// (default: the file's, else $REDIS_URL, else "+defaultRedisURL+")", false, "")
	f.mqtt.Register(fs, "publish to the MQTT broker at `URL` (mqtt:// or mqtts://) instead of Redis; the bridge stores the readings",
		true, "MQTT `user` name: the device id (the default), as the broker ACL requires")
	f.spool.register(fs)
	fs.StringVar(&f.clock, "clock", "", "when to trust the wall clock: auto (past the last time the agent saw), kernel (a time daemon synchronised it: boards without an RTC), trust (default: the file's, else auto)")
	fs.Float64Var(&f.drainRate, "drain-rate", 0, "most readings a `second` sent while a backlog drains; -1 for no cap (default: the file's, else 2000)")
	fs.DurationVar(&f.interval, "interval", 0, "default sampling `interval` (default: the file's, else 1s)")
	fs.StringVar(&f.stateDir, "state-dir", "", "`dir` for persistent state (default: the file's, else $STATE_DIRECTORY, $XDG_STATE_HOME/tributary-edge or ~/.local/state/tributary-edge)")
	fs.StringVar(&f.metricsListen, "metrics-listen", defaultMetricsListen, "`address` to serve /metrics on; empty disables")
	f.dash.register(fs)
	f.logLevel = cli.RegisterLogLevel(fs)
	fs.BoolVar(&f.version, "version", false, "print the version and exit")
	fs.BoolVar(&f.help, "help", false, "print this help and exit")
	fs.BoolVar(&f.help, "h", false, "print this help and exit")
	return f
}

func (f *flags) usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: edge [flags]\n       edge scan [--sim]          probe the I²C buses and 1-wire, print a sensors: snippet\n       edge check --config FILE   validate a configuration file\n\nTributary's edge agent: samples sensors and sends each reading to Redis (or MQTT);\napplies commands to its actuators within the limits of its configuration; --listen serves its own dashboard.\n\nFlags:\n")
	f.fs.SetOutput(w)
	f.fs.PrintDefaults()
	fmt.Fprintf(w, "\nSensor drivers for the configuration file:\n")
	for _, d := range hardware.Drivers() {
		fmt.Fprintf(w, "  %-16s %s\n", d.Name, d.Doc)
	}
	fmt.Fprintf(w, "\nActuator drivers (actuators:, with interlocks: and safe_after:; see README, Actuators and commands):\n")
	for _, d := range hardware.ActuatorDrivers() {
		fmt.Fprintf(w, "  %-16s %s\n", d.Name, d.Doc)
	}
}

// settings are flags, file and environment merged.
type settings struct {
	device        string
	up            uplinkSettings
	spool         spoolSettings
	clock         string
	drainRate     float64
	stateDir      string
	interval      time.Duration
	metricsListen string
	sensors       []hardware.SensorConfig
	actuators     []hardware.ActuatorConfig
	interlocks    [][]string
	safeAfter     time.Duration
	sim           bool
	dash          dashSettings
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 {
		switch args[0] { // subcommands: see scan.go and check.go
		case "scan":
			return runScan(ctx, args[1:], stdout, stderr)
		case "check":
			return runCheck(args[1:], stdout, stderr)
		}
	}
	f := newFlags(stderr)
	if err := f.fs.Parse(args); err != nil {
		return usageError{Err: err}
	}
	switch {
	case f.help:
		f.usage(stdout)
		return nil
	case f.version:
		fmt.Fprintln(stdout, buildinfo.String("edge"))
		return nil
	case f.fs.NArg() > 0:
		return usageError{Err: fmt.Errorf("unexpected argument %q", f.fs.Arg(0))}
	}
	level, err := f.logLevel.Level()
	if err != nil {
		return usageError{Err: err}
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	redisLogLevel.Set(level)
	s, err := resolve(f)
	if err != nil {
		return err
	}

	board, err := hardware.Open(s.sensors, hardware.Options{Device: s.device, Sim: s.sim, Logger: log, Actuators: s.actuators})
	if err != nil {
		return err
	}
	defer closeBoard(board, log)
	var cfgs []agent.SensorConfig
	for _, sn := range board.Sensors() {
		cfgs = append(cfgs, agent.SensorConfig{Sensor: sn.Sensor, Interval: sn.Interval, Timeout: sn.Timeout, Simulated: sn.Simulated})
	}
	ready, floor, err := agent.ClockPolicy(s.clock, s.stateDir, s.device)
	if err != nil {
		return usageError{Err: err}
	}

	boot, err := agent.NewBoot(s.stateDir, s.device)
	if err != nil {
		return err
	}
	reg, err := cli.NewRegistry("tributary_edge")
	if err != nil {
		return err
	}
	so := s.spool.opt
	so.Logger = log.With("component", "spool")
	q, err := spool.Open(s.spool.dir, so)
	if err != nil {
		return err
	}
	defer q.Close()
	if err := reg.Register(q.Collector()); err != nil {
		return err
	}
	dash, err := newDashboard(s.dash, s.device, boot, reg, log)
	if err != nil {
		return err
	}
	act, err := openActuation(s, board, ready, dash.publishEvent, reg, log)
	if err != nil {
		return err
	}
	up, err := openUplink(s, boot, act, log)
	if err != nil {
		return err
	}
	defer up.close()
	if act != nil {
		for _, sn := range act.ctrl.Sensors() {
			cfgs = append(cfgs, agent.SensorConfig{Sensor: sn})
		}
	}

	a, err := agent.New(agent.Config{Device: s.device, Boot: boot, Sensors: cfgs, Interval: s.interval, StateDir: s.stateDir},
		up.up, agent.Options{Logger: log, Registerer: reg, ClockReady: ready, DrainRate: s.drainRate, Queue: q, SeqFromClock: true, OnReading: dash.tap()})
	if err != nil {
		return err
	}
	metricsAddr := "disabled" // and /health beside it
	if s.metricsListen != "" {
		ln, err := net.Listen("tcp", s.metricsListen)
		if err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
		mux := cli.MetricsMux(reg)
		mux.Handle("GET /health", healthHandler(s.device, boot, a, q))
		metrics := cli.ServeBackground(ln, mux, log)
		defer metrics.Stop(2 * time.Second)
		metricsAddr = "http://" + ln.Addr().String() + "/metrics"
	}
	log.Info("edge starting", "version", buildinfo.String("edge"), "device", s.device, "boot", boot, "uplink", up.describe,
		"state_dir", s.stateDir, "spool", s.spool.dir, "spool_sync", s.spool.opt.Sync, "spooled", q.Len(), "sensors", len(cfgs), "metrics", metricsAddr, "clock", cmp.Or(s.clock, agent.ClockAuto), "clock_floor", floor, "actuators", len(act.descriptions()))
	stopDash, err := dash.start(ctx, edgeEnv{agent: a, spool: q, uplink: up.describe, commands: act.commands()})
	if err != nil {
		return err
	}
	defer stopDash()
	if act == nil {
		return a.Run(ctx)
	}
	return act.run(ctx, a, up)
}

// boardCloseTimeout bounds closing the sensors at exit: a driver whose read
// is wedged (abandoned by the agent) may never let its sensor close.
const boardCloseTimeout = 5 * time.Second

// closeBoard closes the board's sensors and buses, giving up after
// boardCloseTimeout so that a wedged read never holds the process.
func closeBoard(board *hardware.Board, log *slog.Logger) {
	done := make(chan error, 1)
	go func() { done <- board.Close() }()
	select {
	case err := <-done:
		if err != nil {
			log.Warn("closing sensors", "err", err)
		}
	case <-time.After(boardCloseTimeout):
		log.Warn("sensors did not close in time (a read is wedged); exiting without them", "timeout", boardCloseTimeout)
	}
}

// resolve merges flags over the file over the environment and defaults.
func resolve(f *flags) (settings, error) {
	var file fileConfig
	if f.config != "" {
		var err error
		if file, err = loadConfig(f.config); err != nil {
			return settings{}, err
		}
	}
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	s := settings{
		device:        cmp.Or(f.device, file.Device),
		stateDir:      cmp.Or(f.stateDir, file.StateDir, defaultStateDir()),
		interval:      cmp.Or(f.interval, file.Interval, agent.DefaultInterval),
		sensors:       file.Sensors,
		actuators:     file.Actuators,
		interlocks:    file.Interlocks,
		safeAfter:     file.safeAfter(),
		sim:           f.sim,
		clock:         cmp.Or(f.clock, file.Clock),
		drainRate:     cmp.Or(f.drainRate, file.DrainRate),
		metricsListen: f.metricsListen,
	}
	if !set["metrics-listen"] && file.MetricsListen != nil {
		s.metricsListen = *file.MetricsListen
	}
	if s.interval < hardware.MinInterval {
		return s, usageError{Err: fmt.Errorf("--interval: %v is below the minimum %v", s.interval, hardware.MinInterval)}
	}
	if s.device == "" {
		host, err := os.Hostname()
		if err != nil || !reading.ValidID(host) {
			return s, usageError{Err: errors.New("no device id: give --device or device: in the config file")}
		}
		s.device = host
	}
	if !reading.ValidID(s.device) {
		return s, usageError{Err: fmt.Errorf("--device %q: not a valid device id (1 to %d letters, digits, '.', '_' or '-', starting with a letter or digit)", s.device, reading.MaxIDLen)}
	}
	if s.stateDir == "" {
		return s, usageError{Err: errors.New("no state directory: give --state-dir (neither $STATE_DIRECTORY, $XDG_STATE_HOME nor $HOME is set)")}
	}
	var err error
	if s.dash, err = resolveDashboard(f.dash, file.Listen); err != nil {
		return s, err
	}
	if s.spool, err = resolveSpool(f.spool, file.Spool, s.stateDir); err != nil {
		return s, err
	}
	s.up, err = resolveUplink(f, file.Uplink, s.device)
	return s, err
}

// defaultStateDir follows systemd's StateDirectory= and the XDG base
// directories; "" if none applies.
func defaultStateDir() string {
	if d := os.Getenv("STATE_DIRECTORY"); d != "" {
		return strings.Split(d, ":")[0] // systemd lists several with ':'
	}
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "tributary-edge")
	}
	if h, err := os.UserHomeDir(); err == nil {
		return filepath.Join(h, ".local", "state", "tributary-edge")
	}
	return ""
}
