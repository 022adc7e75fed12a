//go:build !unix

package exec

import osexec "os/exec"

// killGroup leaves the default: cancellation kills the process itself.
func killGroup(*osexec.Cmd) {}
