package actuate_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tributary-iot/tributary/actuators"
	"github.com/tributary-iot/tributary/agent/actuate"
	"github.com/tributary-iot/tributary/agent/actuate/actuatetest"
	"github.com/tributary-iot/tributary/command"
)

func Example() {
	dir, err := os.MkdirTemp("", "actuate-example")
	if err != nil {
		fmt.Println(err)
		return
	}
	defer os.RemoveAll(dir)
	heater := &actuatetest.Output{ID: "heater"} // on a device: a gpioout relay
	events := make(chan command.Event, 10)
	c, err := actuate.New(actuate.Config{
		Device:    "greenhouse-1",
		Actuators: []actuate.Spec{{Name: "heater", Kind: command.KindSwitch, MaxOn: 30 * time.Minute}},
		SafeAfter: 5 * time.Minute,
		StateDir:  dir,
	}, []actuators.Output{heater}, actuate.Options{Report: func(ev command.Event) { events <- ev }})
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- c.Run(ctx) }()

	now := time.Now().UTC()
	cmd := command.Command{ID: "c-1", Device: "greenhouse-1", Actuator: "heater", Value: 1,
		Deadline: now.Add(30 * time.Second), By: "alice", At: now}
	c.Submit(cmd)
	c.Submit(cmd) // redelivered: reported again, not applied again
	for range 4 {
		ev := <-events
		fmt.Println(ev.Status.ID, ev.Status.State, ev.Status.Value)
	}
	cancel()
	<-done
	fmt.Println("heater set to", heater.Values())
	// Output:
	// c-1 accepted 1
	// c-1 applied 1
	// c-1 accepted 1
	// c-1 applied 1
	// heater set to [0 1]
}
