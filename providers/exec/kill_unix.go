//go:build unix

package exec

import (
	osexec "os/exec"
	"syscall"
)

// killGroup puts the process in a group of its own and makes cancellation
// kill the whole group, so that `sh -c "engine | filter"` leaves no orphan
// holding the pipes.
func killGroup(cmd *osexec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
