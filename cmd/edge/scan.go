package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tributary-iot/tributary/hardware"
)

// runScan is `edge scan`: hardware.Scan of the board, or with --sim of an
// emulated one. It returns an error (exit status 1) when it found no
// sensor, saying why.
func runScan(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("edge scan", flag.ContinueOnError)
	fs.SetOutput(stderr)
	simulate := fs.Bool("sim", false, "scan emulated hardware instead of the board's")
	w1Dir := fs.String("w1-dir", hardware.DefaultW1Dir, "`dir` where the kernel lists 1-wire devices")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: edge scan [--sim] [--w1-dir DIR]\n\nLists the I²C buses, probes the addresses of every supported chip,\nlists the DS18B20 probes, and prints a sensors: snippet for the\nconfiguration file. Flags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return usageError{Err: err}
	}
	if fs.NArg() > 0 {
		return usageError{Err: fmt.Errorf("scan: unexpected argument %q", fs.Arg(0))}
	}
	return hardware.Scan(ctx, stdout, hardware.ScanOptions{W1Dir: *w1Dir, Sim: *simulate})
}
