package main

import (
	"cmp"
	"flag"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/tributary-iot/tributary/agent/spool"
)

// spoolFlags configure the on-disk spool every reading passes through.
type spoolFlags struct {
	dir, sync, maxSize, full string
	maxAge                   time.Duration
}

func (s *spoolFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dir, "spool", "", "`dir` of the on-disk spool that keeps every reading until the uplink has it (default: the file's, else <state-dir>/spool)")
	fs.StringVar(&s.sync, "spool-sync", "", "when the spool fsyncs: always (nothing lost on power loss; slower), interval (at most 1s lost on power loss) or never (the kernel's ~30s) (default: the file's, else interval)")
	fs.StringVar(&s.maxSize, "spool-max-size", "", "most `bytes` the spool holds, e.g. 256MiB or 2GB (default: the file's, else 256MiB)")
	fs.DurationVar(&s.maxAge, "spool-max-age", 0, "drop spooled readings older than this `duration` (default: the file's, else 168h)")
	fs.StringVar(&s.full, "spool-full", "", "what goes when the spool is full: oldest or newest readings (default: the file's, else oldest)")
}

// spoolFile is the spool section of the configuration file.
type spoolFile struct {
	Dir     string        `yaml:"dir"`
	Sync    string        `yaml:"sync"`
	MaxSize string        `yaml:"max_size"`
	MaxAge  time.Duration `yaml:"max_age"`
	Full    string        `yaml:"full"`
}

// spoolSettings are the resolved spool: where and how.
type spoolSettings struct {
	dir string
	opt spool.Options
}

// resolveSpool merges the flags over the file over the defaults.
func resolveSpool(f spoolFlags, file spoolFile, stateDir string) (spoolSettings, error) {
	s := spoolSettings{dir: cmp.Or(f.dir, file.Dir, filepath.Join(stateDir, "spool"))}
	if err := s.opt.Sync.Set(cmp.Or(f.sync, file.Sync, string(spool.SyncInterval))); err != nil {
		return s, usageError{Err: fmt.Errorf("--spool-sync: %w", err)}
	}
	if err := s.opt.Full.Set(cmp.Or(f.full, file.Full, string(spool.DropOldest))); err != nil {
		return s, usageError{Err: fmt.Errorf("--spool-full: %w", err)}
	}
	if size := cmp.Or(f.maxSize, file.MaxSize); size != "" {
		n, err := parseSize(size)
		if err != nil {
			return s, usageError{Err: fmt.Errorf("--spool-max-size: %w", err)}
		}
		s.opt.MaxBytes = n
	}
	s.opt.MaxAge = cmp.Or(f.maxAge, file.MaxAge)
	if s.opt.MaxAge < 0 {
		return s, usageError{Err: fmt.Errorf("--spool-max-age: negative %v", s.opt.MaxAge)}
	}
	return s, nil
}

// parseSize reads a size in bytes: a number with an optional unit, B, kB,
// MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024).
func parseSize(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"kB", 1e3}, {"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"B", 1}}
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mult = strings.TrimSpace(rest), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || n <= 0 || n*float64(mult) > 1<<50 {
		return 0, fmt.Errorf("%q is not a size: give bytes with a unit, such as 256MiB or 2GB", s)
	}
	return int64(n * float64(mult)), nil
}
