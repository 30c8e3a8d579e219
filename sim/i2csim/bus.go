// Package i2csim emulates an I²C bus and the chips on it, behind periph's
// i2c.Bus, so that the real drivers run unchanged in simulation and in
// tests: a driver opens the bus by name through i2creg exactly as on a
// Raspberry Pi, and its transactions reach an emulated chip instead of
// /dev/i2c-1.
//
// A Bus routes each transaction to the Chip attached at its address and can
// inject the faults a real bus shows: a chip that does not acknowledge its
// address and a transfer that fails on the wire. Chip emulators (one package
// per chip, under sim/chip) add the faults of the chip itself: a bad CRC, a
// stuck or out-of-range value.
//
// Errors look like those of periph's Linux driver (host/v3/sysfs), which
// wraps the ioctl's errno as text ("sysfs-i2c: remote I/O error"): here they
// also wrap the errno itself, so both errors.Is and the driver-independent
// classification in package sensors see the same thing.
package i2csim

import (
	"fmt"
	"sync"
	"syscall"

	"periph.io/x/conn/v3/i2c"
	"periph.io/x/conn/v3/i2c/i2creg"
	"periph.io/x/conn/v3/physic"
)

// Chip is one emulated chip. Tx is one combined transaction addressed to
// it: the bytes of w written, then, after a repeated start, len(r) bytes
// read into r. Either may be empty. The bus serialises calls to Tx.
type Chip interface {
	Tx(w, r []byte) error
}

// Fault is a bus-level failure injected at one address.
type Fault int

const (
	// OK: transactions reach the chip.
	OK Fault = iota
	// NoAck: nothing acknowledges the address, as when the chip is missing,
	// unpowered or wired to the wrong pins. Linux reports EREMOTEIO.
	NoAck
	// BusError: the transfer fails on the wire (a stuck SDA line, lost
	// arbitration, a loose connector). Linux reports EIO.
	BusError
)

func (f Fault) String() string {
	switch f {
	case OK:
		return "ok"
	case NoAck:
		return "no-ack"
	case BusError:
		return "bus-error"
	}
	return fmt.Sprintf("Fault(%d)", int(f))
}

// Bus is an emulated I²C bus. It is safe for concurrent use; transactions
// are serialised as on a real bus.
type Bus struct {
	name string

	mu     sync.Mutex
	chips  map[uint16]Chip
	faults map[uint16]Fault
	txs    map[uint16]int
	closed bool
}

// NewBus returns an empty bus called name (e.g. "SIM1").
func NewBus(name string) *Bus {
	return &Bus{name: name, chips: map[uint16]Chip{}, faults: map[uint16]Fault{}, txs: map[uint16]int{}}
}

// Attach puts c on the bus at addr, replacing any chip there.
func (b *Bus) Attach(addr uint16, c Chip) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.chips[addr] = c
}

// Detach removes the chip at addr, as if it were unplugged: its address is
// no longer acknowledged.
func (b *Bus) Detach(addr uint16) {
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.chips, addr)
}

// SetFault makes every later transaction to addr fail with f, or clears the
// fault with OK.
func (b *Bus) SetFault(addr uint16, f Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if f == OK {
		delete(b.faults, addr)
		return
	}
	b.faults[addr] = f
}

// Transactions is how many transactions have been addressed to addr,
// failed ones included.
func (b *Bus) Transactions(addr uint16) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.txs[addr]
}

// String implements i2c.Bus.
func (b *Bus) String() string { return b.name }

// Tx implements i2c.Bus.
func (b *Bus) Tx(addr uint16, w, r []byte) error {
	if addr >= 0x80 {
		return fmt.Errorf("i2csim %s: invalid address %#x", b.name, addr)
	}
	if len(w) == 0 && len(r) == 0 {
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return fmt.Errorf("i2csim %s: %w", b.name, syscall.EBADF)
	}
	b.txs[addr]++
	switch b.faults[addr] {
	case NoAck:
		return &Error{Bus: b.name, Addr: addr, Errno: syscall.EREMOTEIO}
	case BusError:
		return &Error{Bus: b.name, Addr: addr, Errno: syscall.EIO}
	}
	c, ok := b.chips[addr]
	if !ok {
		return &Error{Bus: b.name, Addr: addr, Errno: syscall.EREMOTEIO}
	}
	return c.Tx(w, r)
}

// SetSpeed implements i2c.Bus. The emulated bus has no clock; any speed a
// real bus accepts is accepted.
func (b *Bus) SetSpeed(f physic.Frequency) error {
	if f <= 0 || f > 5*physic.MegaHertz {
		return fmt.Errorf("i2csim %s: invalid speed %s", b.name, f)
	}
	return nil
}

// Close implements io.Closer for the Bus itself; handles returned by the
// registered opener close only themselves.
func (b *Bus) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	return nil
}

// Register registers the bus with periph's i2creg under its name, so that
// i2creg.Open(name) returns a handle to it. Every Open returns a new handle
// whose Close does not close the bus, as opening /dev/i2c-N twice does on
// Linux. Registering a name twice is an error; Unregister undoes it.
func (b *Bus) Register() error {
	return i2creg.Register(b.name, nil, -1, func() (i2c.BusCloser, error) {
		return &handle{Bus: b}, nil
	})
}

// Unregister removes the bus from periph's i2creg.
func (b *Bus) Unregister() error { return i2creg.Unregister(b.name) }

// handle is one opened reference to a Bus.
type handle struct {
	*Bus
}

func (h *handle) Close() error { return nil }

// Error is a failed transaction, as the Linux driver reports it.
type Error struct {
	Bus   string
	Addr  uint16
	Errno syscall.Errno
}

func (e *Error) Error() string {
	return fmt.Sprintf("sysfs-i2c: %s (emulated bus %s, address %#02x)", e.Errno.Error(), e.Bus, e.Addr)
}

// Unwrap returns the errno.
func (e *Error) Unwrap() error { return e.Errno }
