package main

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/edge"
)

func stopCmd() *cobra.Command {
	var project string
	c := &cobra.Command{
		Use:   "stop [--project NAME]",
		Short: "stop serving a project (its port stays reserved for it)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				name, _, err := defaultProject()
				if err != nil {
					return err
				}
				project = name
			}
			h, err := home()
			if err != nil {
				return err
			}
			if err := newClient(h).Stop(cmd.Context(), project); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "stopped project %s\n", project)
			return nil
		},
	}
	c.Flags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	return c
}

func shutdownCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "shutdown",
		Short: "stop every project and the daemon (running requests may finish)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := home()
			if err != nil {
				return err
			}
			err = newClient(h).Shutdown(cmd.Context())
			if errors.Is(err, edge.ErrNotRunning) {
				fmt.Fprintln(cmd.OutOrStdout(), "the daemon is not running")
				return nil
			}
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "daemon shutting down")
			return nil
		},
	}
}
