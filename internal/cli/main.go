package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/tributary-iot/tributary/internal/buildinfo"
)

// A UsageError is a mistake on the command line: Main exits with status 2
// for it, 1 for any other error.
type UsageError struct{ Err error }

func (e UsageError) Error() string { return e.Err.Error() }
func (e UsageError) Unwrap() error { return e.Err }

// Main runs a binary: run gets a context that ends at SIGINT or SIGTERM
// (a second signal kills), the arguments and the standard streams; an
// error is printed as "name: error" and ends the process with status 1, or
// 2 for a UsageError. go-redis's own lines are logged at debug level,
// shown when redisLevel lets debug through.
func Main(name string, redisLevel slog.Leveler, run func(ctx context.Context, args []string, stdout, stderr io.Writer) error) {
	ctx, stop := SignalContext(context.Background())
	QuietRedis(redisLevel)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		if errors.As(err, new(UsageError)) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}

// NewFlagSet returns the flag set of a binary whose --help prints head
// (the usage line and what the binary does) and the flags, on stdout, and
// defines --version.
func NewFlagSet(name, head string, stdout io.Writer) (fs *flag.FlagSet, version *bool) {
	fs = flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, head)
		fs.PrintDefaults()
	}
	return fs, fs.Bool("version", false, "print the version and exit")
}

// Parse parses args with fs (made by NewFlagSet), which takes flags only.
// answered is true when --help or --version has been answered on stdout:
// the binary has nothing more to do.
func Parse(fs *flag.FlagSet, version *bool, args []string, stdout io.Writer) (answered bool, err error) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return true, nil
		}
		return false, err
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String(fs.Name()))
		return true, nil
	}
	if fs.NArg() > 0 {
		return false, fmt.Errorf("unexpected arguments %q (flags only; see --help)", fs.Args())
	}
	return false, nil
}
