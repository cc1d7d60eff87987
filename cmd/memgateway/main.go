// Command memgateway is memproxy's central service: it authenticates
// requests from edges and HTTP clients, routes them to LLM providers and
// logs their usage.
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
	stopProfile := profiling.Start("memgateway") // MEMPROXY_CPUPROFILE, for developers
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	stopProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "memgateway:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	root := &cobra.Command{
		Use:   "memgateway",
		Short: "memproxy's gateway: auth, routing, providers, usage log",
		Example: `  memgateway serve                                     # embedded defaults: mock model, SQLite, memory on
  memgateway serve --config gateway.yaml --http 0.0.0.0:8764 --grpc 0.0.0.0:8765
  memgateway keys create --user alice --project shop   # a user key, shown once
  memgateway keys list --json
  memgateway usage --by day,project --since 7d
  source <(memgateway completion bash)                 # shell completion (zsh, fish, powershell too)`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetArgs(args)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(serveCmd(stdout, stderr))
	root.AddCommand(keysCmd(stdout, stderr))
	root.AddCommand(usageCmd(stdout))
	root.AddCommand(memoryCmd(stdout, stderr))
	return root.ExecuteContext(ctx)
}
