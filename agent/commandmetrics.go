package agent

import "github.com/prometheus/client_golang/prometheus"

// CommandCollector returns a collector of the command transport's metrics,
// from stats (a command source's counts) and outbox (nil: none):
//
//	tributary_edge_commands_received_total        valid commands handed to the controller
//	tributary_edge_commands_invalid_total         entries or messages that were not a valid command of the device
//	tributary_edge_command_events_pending         command events in the outbox, not yet sent
//
// Register one per registry.
func CommandCollector(stats *CommandStats, outbox *EventOutbox) prometheus.Collector {
	return &commandCollector{stats: stats, outbox: outbox,
		received: prometheus.NewDesc("tributary_edge_commands_received_total", "Valid commands the uplink handed to the controller.", nil, nil),
		invalid:  prometheus.NewDesc("tributary_edge_commands_invalid_total", "Command entries or messages that were not a valid command of this device: skipped.", nil, nil),
		pending:  prometheus.NewDesc("tributary_edge_command_events_pending", "Command events kept in the outbox, not yet sent upstream.", nil, nil),
	}
}

type commandCollector struct {
	stats                      *CommandStats
	outbox                     *EventOutbox
	received, invalid, pending *prometheus.Desc
}

func (c *commandCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.received
	ch <- c.invalid
	ch <- c.pending
}

func (c *commandCollector) Collect(ch chan<- prometheus.Metric) {
	if c.stats != nil {
		ch <- prometheus.MustNewConstMetric(c.received, prometheus.CounterValue, float64(c.stats.Received.Load()))
		ch <- prometheus.MustNewConstMetric(c.invalid, prometheus.CounterValue, float64(c.stats.Invalid.Load()))
	}
	if c.outbox != nil {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(c.outbox.Pending()))
	}
}
