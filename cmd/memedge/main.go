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

	"github.com/memproxy/memproxy/internal/version"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
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
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(loginCmd(), startCmd(), runCmd(), stopCmd(), listCmd(), shutdownCmd(), envCmd(), registryCmd(), doctorCmd(), memoryCmd(), statsCmd())
	return root.ExecuteContext(ctx)
}
