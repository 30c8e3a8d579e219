package web

import (
	"net"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// ConnCounter counts the connections Serve holds and those it refused over
// ServeOptions.MaxConns. The zero value is ready; it is safe for
// concurrent use.
type ConnCounter struct {
	open    atomic.Int64
	refused atomic.Uint64
}

// Open is the number of connections open now.
func (c *ConnCounter) Open() int64 { return c.open.Load() }

// Refused is the number of connections closed at once for the cap.
func (c *ConnCounter) Refused() uint64 { return c.refused.Load() }

// Collector returns the counter's metrics, named namespace_http_connections
// and namespace_http_connections_refused_total.
func (c *ConnCounter) Collector(namespace string) prometheus.Collector {
	return &connCollector{
		c:       c,
		open:    prometheus.NewDesc(namespace+"_http_connections", "HTTP connections open, WebSockets included.", nil, nil),
		refused: prometheus.NewDesc(namespace+"_http_connections_refused_total", "HTTP connections closed as soon as accepted: the connection cap (--max-connections) was reached.", nil, nil),
	}
}

type connCollector struct {
	c             *ConnCounter
	open, refused *prometheus.Desc
}

func (cc *connCollector) Describe(ch chan<- *prometheus.Desc) { ch <- cc.open; ch <- cc.refused }

func (cc *connCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(cc.open, prometheus.GaugeValue, float64(cc.c.Open()))
	ch <- prometheus.MustNewConstMetric(cc.refused, prometheus.CounterValue, float64(cc.c.Refused()))
}

// capListener closes, as soon as it accepts it, a connection beyond max
// open ones (max < 0: no cap). A connection counts until it is closed,
// after a WebSocket's hijack too.
type capListener struct {
	net.Listener
	max int64
	n   *ConnCounter
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if open := l.n.open.Add(1); l.max >= 0 && open > l.max {
			l.n.open.Add(-1)
			l.n.refused.Add(1)
			c.Close()
			continue
		}
		return &countedConn{Conn: c, n: l.n}, nil
	}
}

type countedConn struct {
	net.Conn
	n    *ConnCounter
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.n.open.Add(-1) })
	return c.Conn.Close()
}

// CloseWrite lets the server half-close before closing, as it does with a
// bare TCP connection.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
