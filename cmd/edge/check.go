package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"github.com/tributary-iot/tributary/agent/spool"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// runCheck is `edge check --config FILE`: it validates the file and
// explains every mistake, each with its line, or prints what the agent
// would run. It returns an error (exit status 1) if the file has mistakes.
func runCheck(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration `file` to check")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: edge check --config FILE\n\nValidates the configuration file, explains every mistake with its line,\nand prints what the agent would run. Exit status 0 if it is valid, 1 if not.\n")
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{err}
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{errors.New("check: give --config FILE")}
	}
	data, err := os.ReadFile(*path)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	cfg, err := parseConfig(data)
	if err != nil {
		mistakes := splitMistakes(err)
		fmt.Fprintf(stdout, "%s: %d %s:\n", *path, len(mistakes), plural(len(mistakes), "mistake", "mistakes"))
		for _, m := range mistakes {
			fmt.Fprintf(stdout, "  %s\n", m)
		}
		return fmt.Errorf("%s is not valid", *path)
	}
	fmt.Fprintf(stdout, "%s: valid\n\n", *path)
	describe(stdout, cfg)
	return nil
}

var lineNo = regexp.MustCompile(`^line (\d+): `)

// splitMistakes returns the mistakes err joins, sorted by line.
func splitMistakes(err error) []string {
	var out []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	line := func(s string) int {
		if m := lineNo.FindStringSubmatch(s); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
		return 0
	}
	sort.SliceStable(out, func(i, j int) bool { return line(out[i]) < line(out[j]) })
	return out
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// describe prints what the agent would run with cfg (before flags).
func describe(w io.Writer, cfg fileConfig) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "device:\t%s\n", cmp.Or(cfg.Device, "(not set: the host name)"))
	up := "(not set: $REDIS_URL, else " + defaultRedisURL + ")"
	if cfg.Uplink.URL != "" {
		up = redactAny(cfg.Uplink.URL)
		var extra []string
		if cfg.Uplink.Username != "" {
			extra = append(extra, "user "+cfg.Uplink.Username)
		}
		if cfg.Uplink.PasswordFile != "" {
			extra = append(extra, "password from "+cfg.Uplink.PasswordFile)
		}
		if cfg.Uplink.CAFile != "" {
			extra = append(extra, "CA "+cfg.Uplink.CAFile)
		}
		if cfg.Uplink.CertFile != "" {
			extra = append(extra, "client certificate "+cfg.Uplink.CertFile)
		}
		if len(extra) > 0 {
			up += " (" + strings.Join(extra, ", ") + ")"
		}
	}
	fmt.Fprintf(tw, "uplink:\t%s\n", up)
	interval := cfg.Interval
	if interval == 0 {
		interval = time.Second
	}
	fmt.Fprintf(tw, "interval:\t%v (sensors that set none)\n", interval)
	fmt.Fprintf(tw, "clock:\t%s\n", cmp.Or(cfg.Clock, clockAuto))
	sp := cfg.Spool
	fmt.Fprintf(tw, "spool:\t%s, fsync %s, at most %s and %v, when full drop the %s\n",
		cmp.Or(sp.Dir, cmp.Or(cfg.StateDir, "<state dir>")+"/spool"), cmp.Or(sp.Sync, "interval"),
		cmp.Or(sp.MaxSize, "256MiB"), cmp.Or(sp.MaxAge, spool.DefaultMaxAge), cmp.Or(sp.Full, "oldest"))
	tw.Flush()

	fmt.Fprintln(w)
	if len(cfg.Sensors) == 0 {
		fmt.Fprintln(w, "sensors: none configured: the agent runs the simulated set (climate and door)")
		return
	}
	fmt.Fprintf(w, "sensors (%d):\n", len(cfg.Sensors))
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tDRIVER\tATTACHED TO\tMEASURES\tINTERVAL\tIF MISSING")
	for _, c := range cfg.Sensors {
		d, _ := lookupDriver(c.Driver)
		sp, _ := c.spec(d, nil)
		iv := interval.String() + " (default)"
		if sp.interval != 0 {
			iv = sp.interval.String()
		}
		missing := "reported down, retried"
		switch {
		case d.hw == hwNone:
			missing = "-"
		case sp.fallback:
			missing = "simulated (fallback: sim)"
		}
		name := sp.name
		if d.set {
			name = strings.Join(d.names(sp.name), ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name, d.name, attachedTo(sp), measures(sp), iv, missing)
	}
	tw.Flush()
}

// attachedTo says where a sensor is: "I²C bus 1, 0x76".
func attachedTo(sp sensorSpec) string {
	switch sp.driver.hw {
	case hwI2C:
		s := fmt.Sprintf("I²C bus %s, %#02x", sp.bus, sp.addr)
		if sp.driver.name == "ads1115" {
			s += ", AIN" + sp.channel.String()
		}
		return s
	case hwGPIO:
		s := "pin " + sp.pin
		if sp.pull != "" {
			s += ", pull " + sp.pull
		}
		if sp.debounce > 0 {
			s += ", debounce " + sp.debounce.String()
		}
		return s
	case hw1Wire:
		s := "1-wire " + sp.id
		if sp.w1Dir != defaultW1Dir {
			s += " in " + sp.w1Dir
		}
		return s
	}
	return "simulation"
}

// measures says what a sensor reports.
func measures(sp sensorSpec) string {
	if sp.driver.name == "ads1115" {
		switch {
		case sp.metric == "moisture":
			return fmt.Sprintf("moisture %% (dry %g V, wet %g V)", sp.dry, sp.wet)
		case sp.scale != 1:
			return fmt.Sprintf("voltage V (x%g)", sp.scale)
		}
		return "voltage V"
	}
	switch sp.driver.name {
	case "gpio-input":
		return sp.metric + " 0/1, each change at once"
	case "pulse-counter":
		per := map[time.Duration]string{time.Second: "s", time.Minute: "min", time.Hour: "h"}[sp.ratePer]
		if sp.unit == "1" {
			return fmt.Sprintf("count 1 (x%g), rate /%s", sp.scale, per)
		}
		return fmt.Sprintf("count %s (x%g), rate %s/%s", sp.unit, sp.scale, sp.unit, per)
	}
	return sp.driver.reports
}
