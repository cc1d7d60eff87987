//go:build !unix

package memorytest

import "time"

// cpuTime is not available here; see cputime_unix.go.
func cpuTime() (time.Duration, bool) { return 0, false }
