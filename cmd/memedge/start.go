package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/edge"
)

func newClient(h string) *edge.Client { return edge.NewClient(socketPath(h)) }

func startCmd() *cobra.Command {
	var project string
	var port int
	c := &cobra.Command{
		Use:   "start [--project NAME] [--port N]",
		Short: "serve a project on its own local port, starting the daemon if needed",
		Long: `Serve a project on a stable port of 127.0.0.1. The project defaults to the
name of the git checkout (or directory) you are in. Starting a project
that is already served changes nothing and prints its port.`,
		RunE: func(cmd *cobra.Command, _ []string) error {
			name, dir, err := defaultProject()
			if err != nil {
				return err
			}
			if project != "" {
				name = project
			}
			h, err := home()
			if err != nil {
				return err
			}
			client := newClient(h)
			if err := ensureDaemon(cmd.Context(), h, client); err != nil {
				return err
			}
			st, err := client.Start(cmd.Context(), edge.StartRequest{Project: name, Port: port, Dir: dir})
			if err != nil {
				return err
			}
			printStarted(cmd.OutOrStdout(), st)
			return nil
		},
	}
	c.Flags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	c.Flags().IntVar(&port, "port", 0, "pin the project to this port")
	return c
}

func printStarted(w io.Writer, st edge.ProjectStatus) {
	if st.Previous != 0 {
		fmt.Fprintf(w, "note: project %s moved from port %d to %d: %s\n", st.Project, st.Previous, st.Port, st.Reason)
	}
	fmt.Fprintf(w, "project %s → %s\n\n", st.Project, st.URL)
	fmt.Fprintf(w, "  OpenAI-style clients:    export OPENAI_BASE_URL=%s/v1 OPENAI_API_KEY=memedge\n", st.URL)
	fmt.Fprintf(w, "  Anthropic-style clients: export ANTHROPIC_BASE_URL=%s ANTHROPIC_API_KEY=memedge\n", st.URL)
	fmt.Fprintf(w, "  (no real key is needed: the edge sends your gateway key)\n")
}

// ensureDaemon starts the daemon in the background unless one answers,
// and returns once it accepts control calls.
func ensureDaemon(ctx context.Context, h string, client *edge.Client) error {
	if _, err := client.Status(ctx); err == nil {
		return nil
	} else if !errors.Is(err, edge.ErrNotRunning) {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logPath := filepath.Join(h, "memedge.log")
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	defer logf.Close()
	cmd := exec.Command(self, "run")
	cmd.Stdout, cmd.Stderr = logf, logf
	// The daemon outlives the terminal that started it.
	cmd.SysProcAttr = detached()
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting the daemon: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.After(10 * time.Second)
	var exitErr error // ours exited because another daemon runs: wait for it to answer
	for {
		select {
		case err := <-exited:
			// Another start may have launched a daemon at the same moment;
			// then ours exits (one daemon per machine) and theirs answers,
			// perhaps a moment later: keep asking until the deadline.
			exited = nil
			if _, serr := client.Status(ctx); serr == nil {
				return nil
			}
			exitErr = fmt.Errorf("the daemon exited at start (%v); see %s:\n%s", err, logPath, tail(logPath))
			if !strings.Contains(tail(logPath), "already running") {
				return exitErr // a failure of its own
			}
		case <-deadline:
			if exitErr != nil {
				return exitErr
			}
			return fmt.Errorf("the daemon did not answer within 10s; see %s", logPath)
		case <-time.After(50 * time.Millisecond):
			if _, err := client.Status(ctx); err == nil {
				return nil
			}
		}
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
