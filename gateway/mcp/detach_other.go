//go:build !unix

package mcp

import "os/exec"

// detach is a no-op where process groups are not set this way.
func detach(*exec.Cmd) {}
