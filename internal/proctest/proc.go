package proctest

import (
	"fmt"
	"os/exec"
	"syscall"
	"testing"
	"time"
)

// Proc is a program run by a test, with its output (stdout and stderr) in
// Log.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Log  *Log
	// Done is closed when the process has exited; Cmd.ProcessState then
	// says how.
	Done <-chan struct{}
}

// Start runs path with args until the test ends (then SIGTERM, and SIGKILL
// if it has not exited within 10 s), and shows its output if the test
// failed. Name names it in messages.
func Start(tb testing.TB, name, path string, args ...string) *Proc {
	tb.Helper()
	return StartCmd(tb, name, exec.Command(path, args...))
}

// StartCmd is Start for a command the test prepared (its environment,
// directory, SysProcAttr); StartCmd sets its Stdout and Stderr.
func StartCmd(tb testing.TB, name string, cmd *exec.Cmd) *Proc {
	tb.Helper()
	done := make(chan struct{})
	p := &Proc{Name: name, Cmd: cmd, Log: &Log{}, Done: done}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Log, p.Log
	if err := p.Cmd.Start(); err != nil {
		tb.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.Cmd.Wait()
		p.Log.Close(fmt.Sprintf("%s exited (%v)", name, p.Cmd.ProcessState))
		close(done)
	}()
	tb.Cleanup(func() {
		p.Stop()
		if tb.Failed() {
			tb.Logf("--- output of %s:\n%s", name, p.Log.String())
		}
	})
	return p
}

// Await returns the last submatch of re in the first output line that
// matches it, waiting up to timeout; it fails the test if the process exits
// first.
func (p *Proc) Await(tb testing.TB, re string, timeout time.Duration) string {
	tb.Helper()
	return p.Log.Await(tb, re, timeout)
}

// Stop sends SIGTERM and waits for the exit, killing after 10 s.
func (p *Proc) Stop() {
	p.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.Done:
	case <-time.After(10 * time.Second):
		p.Cmd.Process.Kill()
		<-p.Done
	}
}

// Signal sends sig; a process that already exited fails the test.
func (p *Proc) Signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	if err := p.Cmd.Process.Signal(sig); err != nil {
		tb.Fatalf("%v to %s: %v (%v)", sig, p.Name, err, p.Cmd.ProcessState)
	}
}

// Kill sends SIGKILL and waits for the exit; a process that already exited
// fails the test.
func (p *Proc) Kill(tb testing.TB) {
	tb.Helper()
	p.Signal(tb, syscall.SIGKILL)
	<-p.Done
}
