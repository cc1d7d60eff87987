package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/edge"
)

// listEntry is one row of `memedge list`; --json prints an array of them.
type listEntry struct {
	Project   string `json:"project"`
	Port      int    `json:"port"`
	URL       string `json:"url"`
	Running   bool   `json:"running"`
	Requests  int64  `json:"requests"`
	LastError string `json:"last_error,omitempty"`
	Pinned    bool   `json:"pinned,omitempty"`
}

func listCmd() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "list [--json]",
		Short: "list known projects with their ports and state",
		RunE: func(cmd *cobra.Command, _ []string) error {
			h, err := home()
			if err != nil {
				return err
			}
			reg, err := openRegistry(h, nil)
			if err != nil {
				return err
			}
			entries, err := reg.List()
			if err != nil {
				return err
			}
			served := map[string]edge.ProjectStatus{}
			if st, err := newClient(h).Status(cmd.Context()); err == nil {
				for _, p := range st.Projects {
					served[p.Project] = p
				}
			}
			rows := make([]listEntry, 0, len(entries))
			for _, e := range entries {
				p, running := served[e.Project]
				delete(served, e.Project)
				rows = append(rows, listEntry{Project: e.Project, Port: e.Port, URL: fmt.Sprintf("http://127.0.0.1:%d", e.Port),
					Running: running, Requests: p.Requests, LastError: p.LastError, Pinned: e.Pinned})
			}
			// A project the daemon serves is listed even when the registry
			// has lost it (a damaged file rebuilt without it).
			for _, p := range served {
				rows = append(rows, listEntry{Project: p.Project, Port: p.Port, URL: fmt.Sprintf("http://127.0.0.1:%d", p.Port),
					Running: true, Requests: p.Requests, LastError: p.LastError})
			}
			slices.SortFunc(rows, func(a, b listEntry) int { return strings.Compare(a.Project, b.Project) })
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rows)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PROJECT\tPORT\tSTATE\tREQUESTS\tLAST ERROR")
			for _, r := range rows {
				state := "stopped"
				if r.Running {
					state = "running"
				}
				fmt.Fprintf(tw, "%s\t%d\t%s\t%d\t%s\n", r.Project, r.Port, state, r.Requests, r.LastError)
			}
			return tw.Flush()
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print JSON for scripts")
	return c
}
