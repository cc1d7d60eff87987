// Package profiling lets a developer take a CPU profile of a memproxy
// process under real load: with MEMPROXY_CPUPROFILE=<prefix> set, the
// process writes <prefix>.<name>.<pid>.pprof from start to exit (read it
// with go tool pprof). Nothing happens without the variable.
package profiling

import (
	"fmt"
	"os"
	"runtime/pprof"
)

// Env names the variable that turns profiling on.
const Env = "MEMPROXY_CPUPROFILE"

// Start starts the CPU profile of the process called name when Env is set;
// the returned function stops it and closes the file (call it on exit).
func Start(name string) (stop func()) {
	prefix := os.Getenv(Env)
	if prefix == "" {
		return func() {}
	}
	path := fmt.Sprintf("%s.%s.%d.pprof", prefix, name, os.Getpid())
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: profile not taken: %v\n", Env, err)
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintf(os.Stderr, "%s: profile not taken: %v\n", Env, err)
		_ = f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		_ = f.Close()
	}
}
