package web

import (
	"context"
	"errors"
	"slices"
	"sync"

	"github.com/tributary-iot/tributary/command"
	"github.com/tributary-iot/tributary/fanout"
)

// memCommander is a Commander in memory, for tests of the handler alone;
// the cloud's own (*store.Store) is tested against Redis.
type memCommander struct {
	mu   sync.Mutex
	sent []command.Command
	acts map[string][]command.Actuator
	recs map[string][]command.Record // newest first
	fail error                       // every call fails with it when set
	hub  *fanout.Hub                 // gets the frames of commands and statuses, as the store's relay does; may be nil
}

func newMemCommander() *memCommander {
	return &memCommander{acts: map[string][]command.Actuator{}, recs: map[string][]command.Record{}}
}

func (m *memCommander) publish(ev command.Event) {
	if m.hub != nil {
		m.hub.PublishEvent(ev.Device(), ev.AppendFrame(nil))
	}
}

func (m *memCommander) SendCommand(_ context.Context, c command.Command) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return m.fail
	}
	if err := c.Validate(); err != nil {
		return errors.New("memCommander: " + err.Error())
	}
	m.sent = append(m.sent, c)
	m.recs[c.Device] = slices.Insert(m.recs[c.Device], 0, command.Record{Command: c})
	m.publish(command.Event{Command: &c})
	return nil
}

func (m *memCommander) CommandLog(_ context.Context, device string, limit int) ([]command.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	r := m.recs[device]
	return slices.Clone(r[:min(limit, len(r))]), nil
}

func (m *memCommander) Actuators(_ context.Context, device string) ([]command.Actuator, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return nil, m.fail
	}
	return slices.Clone(m.acts[device]), nil
}

// status adds a status to the record of its command and publishes it.
func (m *memCommander) status(s command.Status) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.publish(command.Event{Status: &s})
	for i, r := range m.recs[s.Device] {
		if r.Command.ID == s.ID {
			m.recs[s.Device][i].Statuses = append(r.Statuses, s)
		}
	}
}

func (m *memCommander) sentCommands() []command.Command {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.sent)
}

func (m *memCommander) setFail(err error) {
	m.mu.Lock()
	m.fail = err
	m.mu.Unlock()
}

// testActuators are a heater (a switch) and a fan (a level, 20..100 %).
var testActuators = []command.Actuator{
	{Name: "heater", Kind: command.KindSwitch, Min: 0, Max: 1, Safe: "off", Label: "Heater"},
	{Name: "fan", Kind: command.KindLevel, Min: 20, Max: 100, Safe: "0", Label: "Fan"},
}
