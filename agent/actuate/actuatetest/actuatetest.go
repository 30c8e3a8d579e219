// Package actuatetest holds fakes for tests of package actuate and of what
// wires it: a fake actuators.Output that records every Set and fails on
// demand, and a fake Clock whose timers fire only when it is moved. They
// are plain structs with exported fields, no mocking framework.
package actuatetest

import (
	"context"
	"sync"
)

// Output is a fake actuators.Output. Set its exported fields before handing
// it to a controller; afterwards use the methods, which are safe for
// concurrent use.
type Output struct {
	// ID is what Name returns.
	ID string
	// Initial is what Value returns before any successful Set.
	Initial float64
	// Before, if set, is called at the start of every Set (from the
	// caller's goroutine) with Set's arguments, e.g. to block until a test
	// lets the Set go on. An error it returns fails the Set.
	Before func(ctx context.Context, value float64) error

	mu    sync.Mutex
	value float64
	set   bool
	calls []Call
	err   error
	fails int // Sets left to fail with err; <0 every one
}

// Call is one call of Set.
type Call struct {
	Value float64
	Err   error // what Set returned
}

// Name returns o.ID.
func (o *Output) Name() string { return o.ID }

// Set records the call, then fails if told to (SetErr, Before) or takes value.
func (o *Output) Set(ctx context.Context, value float64) error {
	var err error
	if o.Before != nil {
		err = o.Before(ctx, value)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if err == nil && o.fails != 0 {
		err = o.err
		if o.fails > 0 {
			o.fails--
		}
	}
	if err == nil {
		o.value, o.set = value, true
	}
	o.calls = append(o.calls, Call{Value: value, Err: err})
	return err
}

// Value returns the value last set successfully, or Initial.
func (o *Output) Value() float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if !o.set {
		return o.Initial
	}
	return o.value
}

// SetErr makes the next n Sets fail with err (n < 0: every one; err nil or
// n 0: none).
func (o *Output) SetErr(err error, n int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.err, o.fails = err, n
	if err == nil {
		o.fails = 0
	}
}

// Calls returns every call of Set so far, in order, failed ones included.
func (o *Output) Calls() []Call {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Call(nil), o.calls...)
}

// Values returns the value of every call of Set so far, in order.
func (o *Output) Values() []float64 {
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.calls) == 0 {
		return nil
	}
	vs := make([]float64, len(o.calls))
	for i, c := range o.calls {
		vs[i] = c.Value
	}
	return vs
}
