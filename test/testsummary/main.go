// Command testsummary runs `go test -json ARGS…` and prints what a plain
// `go test` prints (each package's closing ok/FAIL line, the output of
// failed tests, build errors), then a summary of every skipped test grouped
// by the reason it gave, so a run that skipped a suite says so at the end.
// Its exit status is go test's. make test runs it.
//
//	go run ./test/testsummary -count=1 ./...
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cmd := exec.Command("go", append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testsummary:", err)
		return 2
	}
	s := newSummary(stdout)
	readErr := s.read(out)
	waitErr := cmd.Wait()
	s.printSkips()
	if readErr != nil {
		fmt.Fprintln(stderr, "testsummary: reading go test -json:", readErr)
	}
	var exit *exec.ExitError
	switch {
	case errors.As(waitErr, &exit):
		return exit.ExitCode()
	case waitErr != nil:
		fmt.Fprintln(stderr, "testsummary:", waitErr)
		return 2
	case readErr != nil:
		return 2
	}
	return 0
}
