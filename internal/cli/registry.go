package cli

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/buildinfo"
)

// NewRegistry returns a private registry holding namespace_build_info
// (always 1; its version label names the build of binary) and cs. A
// collector that cannot be registered is an error.
func NewRegistry(namespace, binary string, cs ...prometheus.Collector) (*prometheus.Registry, error) {
	reg := prometheus.NewRegistry()
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        namespace + "_build_info",
		Help:        "Always 1; the label says which build is running.",
		ConstLabels: prometheus.Labels{"version": buildinfo.String(binary)},
	})
	info.Set(1)
	for _, c := range append([]prometheus.Collector{info}, cs...) {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register metrics: %w", err)
		}
	}
	return reg, nil
}
