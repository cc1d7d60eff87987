package main

import (
	"runtime"
	"syscall"
	"time"
)

// childAttr makes the kernel send SIGTERM to a child when the bench dies, so
// no gateway, edge or upstream outlives an interrupted run.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
}

const prSetTimerSlack = 29 // PR_SET_TIMERSLACK, prctl(2)

// lockSchedulerThread pins the calling goroutine to its OS thread and sets
// the thread's timer slack to 1 µs, so that sleepPrecise wakes on time. The
// returned func restores the default slack and unpins.
func lockSchedulerThread() (unlock func()) {
	runtime.LockOSThread()
	_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 1000, 0)
	return func() {
		_, _, _ = syscall.RawSyscall(syscall.SYS_PRCTL, prSetTimerSlack, 0, 0)
		runtime.UnlockOSThread()
	}
}

// sleepPrecise blocks the calling thread in nanosleep(2) for about d. The
// scheduler uses it instead of time.Sleep, which on an otherwise idle
// process rounds sub-millisecond waits up to a whole millisecond (the
// runtime's netpoller waits in milliseconds); that would add up to 1 ms of
// generator lag to every request at these rates. It may return early
// (EINTR); callers loop until their time has come.
func sleepPrecise(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	_ = syscall.Nanosleep(&ts, nil)
}
