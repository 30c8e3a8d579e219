package main

import (
	"fmt"
	"log/slog"
	"sync/atomic"

	mochi "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"
)

// demoBroker is the embedded MQTT broker of --demo (mochi-mqtt), so that
// part of the demo fleet takes the MQTT path (agent, broker, bridge, Redis)
// with nothing installed. It listens on a free loopback port and lets any
// client in: it is a demo, never reachable from elsewhere. Production uses
// a real broker (deploy/mosquitto) with passwords and an ACL.
type demoBroker struct {
	srv  *mochi.Server
	addr string
}

// startDemoBroker starts the broker; Close stops it.
func startDemoBroker(log *slog.Logger) (*demoBroker, error) {
	srv := mochi.New(&mochi.Options{InlineClient: false, Logger: log.With("part", "broker")})
	if err := srv.AddHook(new(auth.AllowHook), nil); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	tcp := listeners.NewTCP(listeners.Config{ID: "demo", Address: "127.0.0.1:0"})
	if err := srv.AddListener(tcp); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	if err := srv.Serve(); err != nil {
		return nil, fmt.Errorf("demo broker: %w", err)
	}
	return &demoBroker{srv: srv, addr: tcp.Address()}, nil
}

// URL is the broker's mqtt:// URL.
func (b *demoBroker) URL() string { return "mqtt://" + b.addr }

// inflight is how many QoS 1 messages the broker has sent and not had
// acknowledged (to the bridge, in the demo).
func (b *demoBroker) inflight() int64 { return atomic.LoadInt64(&b.srv.Info.Inflight) }

// Close stops the broker.
func (b *demoBroker) Close() error { return b.srv.Close() }
