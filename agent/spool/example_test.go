package spool_test

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tributary-iot/tributary/agent"
	"github.com/tributary-iot/tributary/agent/spool"
	"github.com/tributary-iot/tributary/reading"
)

// The spool is an agent.Queue.
var _ agent.Queue = (*spool.Spool)(nil)

func Example() {
	dir, _ := os.MkdirTemp("", "spool-example-")
	defer os.RemoveAll(dir)
	at := time.Now().UTC().Truncate(time.Millisecond)
	r := reading.Reading{Device: "greenhouse-1", Sensor: "bme280", Metric: "temperature", Value: 21.37, Unit: "Cel", Time: at}

	s, err := spool.Open(dir, spool.Options{Sync: spool.SyncAlways})
	if err != nil {
		fmt.Println(err)
		return
	}
	for seq := uint64(1); seq <= 3; seq++ {
		r.Seq = seq
		s.Push([]reading.Reading{r})
	}
	batch, _ := s.Peek(context.Background(), 2)
	fmt.Println("sent", len(batch), "readings, the first seq", batch[0].Seq)
	s.Commit(len(batch)) // the uplink stored them
	s.Close()

	// After a restart (or a crash) the spool holds what was not committed.
	s, err = spool.Open(dir, spool.Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	batch, _ = s.Peek(context.Background(), 10)
	fmt.Println("after reopening:", len(batch), "reading, seq", batch[0].Seq)
	// Output:
	// sent 2 readings, the first seq 1
	// after reopening: 1 reading, seq 3
}
