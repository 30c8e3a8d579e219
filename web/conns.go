package web

import (
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tributary-iot/tributary/internal/lograte"
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
		refused: prometheus.NewDesc(namespace+"_http_connections_refused_total", "HTTP connections closed as soon as accepted: the connection cap (--max-connections) was reached, or the client address held its share (--max-client-connections).", nil, nil),
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
// open ones (max < 0: no cap), or beyond perClient open ones from one
// client address (an IPv6 client by its /64; perClient < 0: no cap), so
// that one client cannot hold every connection. A connection counts until
// it is closed, after a WebSocket's hijack too. Refusals are logged at
// most once a minute.
type capListener struct {
	net.Listener
	max, perClient int64
	n              *ConnCounter
	log            *slog.Logger

	mu      sync.Mutex
	clients map[string]int64 // open connections by client address
	logLim  lograte.Limiter
}

func (l *capListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		key := addrKey(c.RemoteAddr().String())
		reason := ""
		l.mu.Lock()
		if open := l.n.open.Add(1); l.max >= 0 && open > l.max {
			l.n.open.Add(-1)
			reason = "the connection cap (--max-connections) is reached"
		} else if l.perClient >= 0 && l.clients[key] >= l.perClient {
			l.n.open.Add(-1)
			reason = "this client address holds its share of connections (--max-client-connections)"
		} else {
			if l.clients == nil {
				l.clients = map[string]int64{}
			}
			l.clients[key]++
		}
		var suppressed int
		show := false
		if reason != "" {
			suppressed, show = l.logLim.Fail(time.Now())
		}
		l.mu.Unlock()
		if reason == "" {
			return &countedConn{Conn: c, n: l.n, done: func() { l.release(key) }}, nil
		}
		l.n.refused.Add(1)
		c.Close()
		if show && l.log != nil {
			l.log.Warn("connection refused", "remote", c.RemoteAddr().String(), "reason", reason, "open", l.n.Open(), "refused_since_last_log", suppressed)
		}
	}
}

func (l *capListener) release(key string) {
	l.mu.Lock()
	if l.clients[key]--; l.clients[key] <= 0 {
		delete(l.clients, key)
	}
	l.mu.Unlock()
}

type countedConn struct {
	net.Conn
	n    *ConnCounter
	done func()
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() {
		c.n.open.Add(-1)
		c.done()
	})
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
