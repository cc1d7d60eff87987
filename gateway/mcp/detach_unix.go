//go:build unix

package mcp

import (
	"os/exec"
	"syscall"
)

// detach puts a stdio server in its own process group, so a Ctrl-C meant
// for the gateway does not kill it under a running session: the gateway
// stops it itself, by closing its stdin, when the Set closes.
func detach(cmd *exec.Cmd) { cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} }
