package hardware

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// Describe writes a table of the sensors cs configures, as edge check
// shows them: where each is attached, what it measures, how often, and
// what happens if it is missing. interval is the default interval of the
// sensors that set none.
func Describe(w io.Writer, cs []SensorConfig, interval time.Duration) {
	if len(cs) == 0 {
		fmt.Fprintln(w, "sensors: none configured: the agent runs the simulated set (climate and door)")
		return
	}
	fmt.Fprintf(w, "sensors (%d):\n", len(cs))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "  NAME\tDRIVER\tATTACHED TO\tMEASURES\tINTERVAL\tIF MISSING")
	for _, c := range cs {
		d, ok := lookupDriver(c.Driver)
		if !ok {
			continue // not valid: see Validate
		}
		sp, _ := c.spec(d, nil)
		iv := interval.String() + " (default)"
		if sp.interval != 0 {
			iv = sp.interval.String()
		}
		missing := "reported down, retried"
		switch {
		case d.kind() == kindSim:
			missing = "-"
		case sp.fallback:
			missing = "simulated (fallback: sim)"
		}
		name := sp.name
		if d.set() {
			name = strings.Join(d.names(sp.name), ", ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%s\n", name, d.Name, attachedTo(sp), measures(sp), iv, missing)
	}
	tw.Flush()
}

// attachedTo says where a sensor is: "I²C bus 1, 0x76".
func attachedTo(sp spec) string {
	switch sp.driver.kind() {
	case kindI2C:
		s := fmt.Sprintf("I²C bus %s, %#02x", sp.bus, sp.addr)
		if sp.driver.Name == "ads1115" {
			s += ", AIN" + sp.channel.String()
		}
		return s
	case kindGPIO:
		s := "pin " + sp.pin
		if sp.pull != "" {
			s += ", pull " + sp.pull
		}
		if sp.debounce > 0 {
			s += ", debounce " + sp.debounce.String()
		}
		return s
	case kind1Wire:
		s := "1-wire " + sp.id
		if sp.w1Dir != DefaultW1Dir {
			s += " in " + sp.w1Dir
		}
		return s
	}
	return "simulation"
}

// measures says what a sensor reports.
func measures(sp spec) string {
	if sp.driver.Name == "ads1115" {
		switch {
		case sp.metric == "moisture":
			return fmt.Sprintf("moisture %% (dry %g V, wet %g V)", sp.dry, sp.wet)
		case sp.scale != 1:
			return fmt.Sprintf("voltage V (x%g)", sp.scale)
		}
		return "voltage V"
	}
	switch sp.driver.Name {
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
