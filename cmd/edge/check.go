package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/hardware"
	"github.com/tributary-iot/tributary/internal/secret"
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
		return usageError{Err: err}
	}
	if *path == "" || fs.NArg() > 0 {
		fs.Usage()
		return usageError{Err: errors.New("check: give --config FILE")}
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
	fmt.Fprintf(stdout, "%s: valid\n", *path)
	for _, w := range missingFiles(cfg) {
		fmt.Fprintf(stdout, "  warning: %s\n", w)
	}
	fmt.Fprintln(stdout)
	describe(stdout, cfg)
	return nil
}

// missingFiles names the files cfg refers to that cannot be opened now:
// warnings, not mistakes, since a package's postinst checks the file
// before its user has put the secrets in place; the agent refuses to start
// without them.
func missingFiles(cfg fileConfig) []string {
	var out []string
	for _, f := range []struct{ key, path string }{
		{"uplink.ca_file", cfg.Uplink.CAFile}, {"uplink.cert_file", cfg.Uplink.CertFile},
		{"uplink.key_file", cfg.Uplink.KeyFile}, {"uplink.password_file", cfg.Uplink.PasswordFile},
	} {
		if f.path == "" {
			continue
		}
		fh, err := os.Open(f.path)
		if err != nil {
			out = append(out, fmt.Sprintf("%s %s cannot be read (%v): the agent will not start until it can", f.key, f.path, errors.Unwrap(err)))
			continue
		}
		fh.Close()
	}
	return out
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
		up = secret.RedactURL(cfg.Uplink.URL)
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
	fmt.Fprintf(tw, "clock:\t%s\n", cmp.Or(cfg.Clock, agent.ClockAuto))
	sp := cfg.Spool
	fmt.Fprintf(tw, "spool:\t%s, fsync %s, at most %s and %v, when full drop the %s\n",
		cmp.Or(sp.Dir, cmp.Or(cfg.StateDir, "<state dir>")+"/spool"), cmp.Or(sp.Sync, "interval"),
		cmp.Or(sp.MaxSize, "256MiB"), cmp.Or(sp.MaxAge, spool.DefaultMaxAge), cmp.Or(sp.Full, "oldest"))
	tw.Flush()

	fmt.Fprintln(w)
	hardware.Describe(w, cfg.Sensors, interval)
	if len(cfg.Actuators) > 0 {
		fmt.Fprintln(w)
		hardware.DescribeActuators(w, cfg.Actuators, cfg.Interlocks, cfg.safeAfter())
	}
}
