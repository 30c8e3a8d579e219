package i2csim

import (
	"errors"
	"syscall"
	"testing"

	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"

	"github.com/tributary-iot/tributary/sensors"
)

// echo answers a read with the last bytes written to it.
type echo struct{ last []byte }

func (e *echo) Tx(w, r []byte) error {
	if len(w) > 0 {
		e.last = append(e.last[:0], w...)
	}
	copy(r, e.last)
	return nil
}

func TestBusRoutesAndFails(t *testing.T) {
	b := NewBus("SIMTEST1")
	if err := b.Register(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Unregister() })
	b.Attach(0x40, &echo{})

	// Opened by name through periph, as a driver on a Pi opens I2C1.
	h, err := i2creg.Open("SIMTEST1")
	if err != nil {
		t.Fatal(err)
	}
	r := make([]byte, 2)
	if err := h.Tx(0x40, []byte{0xbe, 0xef}, r); err != nil || r[0] != 0xbe || r[1] != 0xef {
		t.Fatalf("Tx to the chip: %x, %v", r, err)
	}
	for _, tc := range []struct {
		name  string
		setup func()
		errno syscall.Errno
		kind  string
	}{
		{"nothing at the address", func() {}, syscall.EREMOTEIO, "no_device"},
		{"no acknowledge", func() { b.SetFault(0x40, NoAck) }, syscall.EREMOTEIO, "no_device"},
		{"bus error", func() { b.SetFault(0x40, BusError) }, syscall.EIO, "bus"},
	} {
		tc.setup()
		addr := uint16(0x40)
		if tc.name == "nothing at the address" {
			addr = 0x41
		}
		err := h.Tx(addr, []byte{1}, r)
		if !errors.Is(err, tc.errno) || sensors.ErrorKind(sensors.I2CError(err)) != tc.kind {
			t.Errorf("%s: %v (kind %q), want errno %v, kind %q", tc.name, err, sensors.ErrorKind(sensors.I2CError(err)), tc.errno, tc.kind)
		}
	}
	b.SetFault(0x40, OK)
	if err := h.Tx(0x40, []byte{1}, r); err != nil {
		t.Fatalf("after clearing the fault: %v", err)
	}
	b.Detach(0x40)
	if err := h.Tx(0x40, []byte{1}, r); !errors.Is(err, syscall.EREMOTEIO) {
		t.Fatalf("detached chip: %v", err)
	}
	if n := b.Transactions(0x40); n != 5 {
		t.Errorf("%d transactions at 0x40, want 5", n)
	}
	// Closing a handle leaves the bus open for the others.
	if err := h.Close(); err != nil {
		t.Fatal(err)
	}
	b.Attach(0x40, &echo{})
	if err := b.Tx(0x40, []byte{1}, r); err != nil {
		t.Fatalf("bus after a handle's Close: %v", err)
	}
	if err := b.SetSpeed(400 * physic.KiloHertz); err != nil {
		t.Fatal(err)
	}
	if err := b.SetSpeed(0); err == nil {
		t.Fatal("speed 0 accepted")
	}
	if err := b.Tx(0x80, []byte{1}, nil); err == nil {
		t.Fatal("a 10-bit address accepted")
	}
	if err := b.Register(); err == nil {
		t.Fatal("registered the same name twice")
	}
}
