//go:build !linux

package main

import (
	"syscall"
	"time"
)

// childAttr has nothing to add outside Linux (the bench reads /proc and is
// only meaningful on Linux anyway).
func childAttr() *syscall.SysProcAttr { return nil }

// lockSchedulerThread does nothing outside Linux.
func lockSchedulerThread() (unlock func()) { return func() {} }

// sleepPrecise is time.Sleep outside Linux.
func sleepPrecise(d time.Duration) { time.Sleep(d) }
