//go:build windows

package main

import "syscall"

// Process creation flags (winbase.h) for a daemon without a console.
const (
	createNewProcessGroup = 0x00000200
	detachedProcess       = 0x00000008
)

// detached starts the daemon in its own process group with no console, so
// closing the terminal that started it does not stop it.
func detached() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{CreationFlags: createNewProcessGroup | detachedProcess, HideWindow: true}
}
