package actuatetest

import (
	"errors"
	"reflect"
	"testing"
	"time"
)

func TestClockTimersFireWhenReached(t *testing.T) {
	var c Clock
	past := c.NewTimer(c.Now())
	select {
	case <-past.C():
	default:
		t.Fatal("a timer for now did not fire at once")
	}
	t1 := c.NewTimer(c.Now().Add(time.Minute))
	t2 := c.NewTimer(c.Now().Add(2 * time.Minute))
	t3 := c.NewTimer(c.Now().Add(3 * time.Minute))
	if !t3.Stop() || t3.Stop() {
		t.Error("Stop of a waiting timer: want true, then false")
	}
	c.Advance(90 * time.Second)
	select {
	case got := <-t1.C():
		if !got.Equal(DefaultStart.Add(90 * time.Second)) {
			t.Errorf("fired with %v", got)
		}
	default:
		t.Fatal("a reached timer did not fire")
	}
	select {
	case <-t2.C():
		t.Fatal("a timer fired early")
	default:
	}
	if n := c.Timers(); n != 1 {
		t.Errorf("Timers %d, want 1", n)
	}
	c.Advance(time.Hour)
	<-t2.C()
	select {
	case <-t3.C():
		t.Fatal("a stopped timer fired")
	default:
	}
}

func TestOutputRecordsAndFailsOnDemand(t *testing.T) {
	o := &Output{ID: "relay", Initial: 1}
	if o.Value() != 1 || o.Values() != nil {
		t.Fatalf("fresh output: %v %v", o.Value(), o.Values())
	}
	boom := errors.New("boom")
	o.SetErr(boom, 1)
	if err := o.Set(t.Context(), 0); err != boom {
		t.Errorf("Set: %v, want boom", err)
	}
	if err := o.Set(t.Context(), 0); err != nil || o.Value() != 0 {
		t.Errorf("Set after the failure: %v, value %v", err, o.Value())
	}
	want := []Call{{Value: 0, Err: boom}, {Value: 0}}
	if got := o.Calls(); !reflect.DeepEqual(got, want) {
		t.Errorf("Calls %+v, want %+v", got, want)
	}
}
