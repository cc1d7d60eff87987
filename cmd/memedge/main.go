// Command memedge is memproxy's per-laptop daemon: one loopback port per
// project, every request tagged with identity and tunnelled to the gateway.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/internal/profiling"
	"github.com/memproxy/memproxy/internal/version"
)

func main() {
	stopProfile := profiling.Start("memedge") // MEMPROXY_CPUPROFILE, for developers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "memedge:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "memedge",
		Short: "memproxy's edge: a local port per project, tunnelled to the gateway",
		Long: `memedge gives each project a stable port on 127.0.0.1. Point an IDE or CLI
at http://127.0.0.1:PORT; no API key is needed there: the edge holds your
gateway key and tags every request with user, project and client.

State lives in $MEMPROXY_HOME (default ~/.config/memproxy).`,
		Example: `  memedge login --gateway gw.example:8765 --key sk-mp-…   # once per laptop
  cd ~/src/shop && memedge start                          # serve this checkout's project
  memedge setup claude-code                               # point Claude Code at it (codex, continue, jetbrains)
  memedge doctor claude-code                              # one real round trip, as that client makes it
  memedge list --json                                     # projects, ports and state, for scripts
  memedge memory add "staging is on port 6543"            # teach the project a fact
  memedge stats --since 24h                               # this project's usage
  memedge service install                                 # run the edge at login
  source <(memedge completion bash)                       # shell completion (zsh, fish, powershell too)`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(setupCmd(), serviceCmd(), loginCmd(), startCmd(), runCmd(), stopCmd(), listCmd(), shutdownCmd(), envCmd(), registryCmd(), doctorCmd(), memoryCmd(), statsCmd())
	return root.ExecuteContext(ctx)
}
