package agent

import (
	"context"
	"errors"
	"fmt"

	mqtt "github.com/eclipse/paho.mqtt.golang"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/mqttwire"
)

// onMessage takes a message of the commands topic (or of the session,
// before the subscription is made again): a command of this device goes to
// opt.Commands; anything else is counted and dropped.
func (u *MQTTUplink) onMessage(_ mqtt.Client, m mqtt.Message) {
	if u.opt.Commands == nil {
		return
	}
	stats := u.opt.CommandStats
	if stats == nil {
		stats = &CommandStats{}
	}
	c, err := command.Decode(m.Payload())
	if err == nil && (m.Topic() != mqttwire.CommandsTopic(u.opt.Device) || c.Device != u.opt.Device) {
		err = fmt.Errorf("%w: command for %q on %q", command.ErrInvalid, c.Device, m.Topic())
	}
	if err != nil {
		stats.Invalid.Add(1)
		u.log.Warn("mqtt: dropped a message that is not a command of this device", "device", u.opt.Device, "topic", m.Topic(), "err", err)
		return
	}
	stats.Received.Add(1)
	u.opt.Commands(c)
}

// SendEvents publishes evs (1 to mqttwire.MaxEventBatch, of this device) on
// mqttwire.EventsTopic, QoS 1, and returns once the broker has them. It
// fails at once while not connected. It is a SendEvents for an EventOutbox.
func (u *MQTTUplink) SendEvents(ctx context.Context, evs []command.Event) error {
	for i := range evs {
		if d := evs[i].Device(); d != u.opt.Device {
			return fmt.Errorf("mqtt uplink: %w: event about %q", command.ErrInvalid, d)
		}
	}
	b, err := mqttwire.EncodeEvents(evs)
	if err != nil {
		return fmt.Errorf("mqtt uplink: %w", err)
	}
	if !u.client.IsConnectionOpen() {
		return errors.New("mqtt uplink: not connected to the broker")
	}
	return u.wait(ctx, u.client.Publish(mqttwire.EventsTopic(u.opt.Device), 1, false, b))
}
