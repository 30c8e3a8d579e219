//go:build !linux

package agent

// kernelSynced cannot ask the kernel here; the clock is taken as synchronised.
func kernelSynced() bool { return true }
