//go:build unix

package main

import "syscall"

// detached starts the daemon in a new session, away from the terminal.
func detached() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setsid: true} }
