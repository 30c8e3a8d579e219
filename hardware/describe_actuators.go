package hardware

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-iot/tributary/command"
)

// DescribeActuators writes a table of the actuators as configures, as edge
// check shows them: the pin and its sense, the range, the safe state and
// the limits, then the interlocks and when safe states apply.
func DescribeActuators(w io.Writer, as []ActuatorConfig, interlocks [][]string, safeAfter time.Duration) {
	if len(as) == 0 {
		return
	}
	fmt.Fprintf(w, "actuators (%d):\n", len(as))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tDRIVER\tPIN\tRANGE\tSAFE\tLIMITS\tIF MISSING")
	for _, a := range as {
		d, ok := lookupActuatorDriver(a.Driver)
		if !ok {
			continue // not valid: see ValidateActuators
		}
		sp, _ := a.spec(d, nil)
		pin := sp.pin
		if sp.activeLow {
			pin += " (active low)"
		}
		rng := "off/on"
		safe := sp.safe.switchString()
		if d.Kind == command.KindLevel {
			rng = fmt.Sprintf("%g-%g %% at %s", sp.min, sp.max, sp.freq)
			safe = sp.safe.String()
			if !sp.safe.Hold {
				safe += " %"
			}
		}
		var limits []string
		if sp.maxOn > 0 {
			limits = append(limits, "on at most "+sp.maxOn.String())
		}
		if sp.minOff > 0 {
			limits = append(limits, "off at least "+sp.minOff.String())
		}
		limits = append(limits, fmt.Sprintf("%d/min", sp.perMinute))
		missing := "commands fail"
		if sp.fallback {
			missing = "emulated (fallback: sim)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\t%s\n", sp.name, d.Name, pin, rng, safe, strings.Join(limits, ", "), missing)
	}
	tw.Flush()
	for _, g := range interlocks {
		fmt.Fprintf(w, "interlock: never on together: %s\n", strings.Join(g, ", "))
	}
	if safeAfter > 0 {
		fmt.Fprintf(w, "safe states: at start, at stop, and after the uplink is lost for %v\n", safeAfter)
	} else {
		fmt.Fprintln(w, "safe states: at start and at stop (safe_after 0s: never for a lost uplink)")
	}
}
