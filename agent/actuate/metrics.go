package actuate

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Causes of tributary_edge_actuator_safe_state_total.
const (
	CauseBoot       = "boot"        // the controller started
	CauseUplinkLost = "uplink_lost" // the uplink was lost for Config.SafeAfter
	CauseHardware   = "hardware"    // a command's Set failed
)

type metrics struct {
	commands *prometheus.CounterVec
	value    *prometheus.GaugeVec
	safe     *prometheus.CounterVec
}

func newMetrics(names []string) *metrics {
	m := &metrics{
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_commands_total",
			Help: "Commands decided by the edge, by outcome (applied, refused, expired, failed) and reason (empty when applied); repeats of a recorded id are not counted again.",
		}, []string{"outcome", "reason"}),
		value: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "tributary_edge_actuator_value",
			Help: "Each actuator's value: a switch 0 or 1, a level its PWM duty in %.",
		}, []string{"actuator"}),
		safe: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tributary_edge_actuator_safe_state_total",
			Help: "Times an actuator was put in its safe state (or held), by cause (boot, uplink_lost, hardware).",
		}, []string{"actuator", "cause"}),
	}
	for _, n := range names {
		m.value.WithLabelValues(n)
		for _, c := range []string{CauseBoot, CauseUplinkLost, CauseHardware} {
			m.safe.WithLabelValues(n, c)
		}
	}
	return m
}

func (m *metrics) register(r prometheus.Registerer) error {
	if r == nil {
		return nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.commands, m.value, m.safe} {
		if err := r.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return errors.Join(errors.New("actuate: register metrics"), err)
	}
	return nil
}
