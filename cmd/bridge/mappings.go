package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/tributary-iot/tributary/bridge"
	"github.com/tributary-iot/tributary/internal/cli"
)

const mappingsUsage = `Usage: bridge mappings --example | --check FILE

Mappings turn the messages of other devices (Zigbee2MQTT, Tasmota, Shelly,
Home Assistant-style JSON, SenML) into readings; give the file to
bridge --mappings (or cloud --mqtt-mappings). The reference of every key
is bridge/README.md in Tributary's source; the example file sums them up
in its head.

Flags:
`

// runMappings is the subcommand "bridge mappings": it prints the example
// file, or checks a file as --mappings would load it.
func runMappings(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("bridge mappings", flag.ContinueOnError)
	fs.SetOutput(stdout)
	fs.Usage = func() {
		fmt.Fprint(stdout, mappingsUsage)
		fs.PrintDefaults()
	}
	example := fs.Bool("example", false, "print a complete, commented mappings file with a worked example for each kind of device")
	check := fs.String("check", "", "load the mappings `file` as --mappings does and report its first error (with its line), or how many mappings it holds")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return cli.UsageError{Err: err}
	}
	switch {
	case fs.NArg() > 0:
		return cli.UsageError{Err: fmt.Errorf("mappings: unexpected arguments %q", fs.Args())}
	case *example == (*check != ""):
		return cli.UsageError{Err: errors.New("mappings: give one of --example and --check FILE")}
	case *example:
		_, err := io.WriteString(stdout, bridge.ExampleMappings())
		return err
	}
	ms, err := bridge.LoadMappings(*check)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "%s: %d mappings, valid\n", *check, len(ms))
	return err
}
