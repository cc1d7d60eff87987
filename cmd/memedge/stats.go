package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"text/tabwriter"

	"github.com/spf13/cobra"
)

// statsCmd prints the current project's usage: totals, per day, and by
// model and client, from the gateway's usage log through the edge port.
func statsCmd() *cobra.Command {
	var project, since string
	var asJSON bool
	c := &cobra.Command{
		Use:   "stats [--project NAME] [--since 7d]",
		Short: "print the project's usage: requests, tokens, cost, latency",
		RunE: func(cmd *cobra.Command, _ []string) error {
			if project == "" {
				name, _, err := defaultProject()
				if err != nil {
					return err
				}
				project = name
			}
			q := "?project=" + url.QueryEscape(project) + "&since=" + url.QueryEscape(since)
			b, err := memoryCall(cmd.Context(), project, http.MethodGet, "/v1/usage/summary"+q, nil)
			if err != nil {
				return err
			}
			var sum struct {
				Totals     row   `json:"totals"`
				TopModels  []row `json:"top_models"`
				TopClients []row `json:"top_clients"`
			}
			if err := json.Unmarshal(b, &sum); err != nil {
				return fmt.Errorf("unexpected answer: %w", err)
			}
			days, err := memoryCall(cmd.Context(), project, http.MethodGet, "/v1/usage"+q+"&group_by=day", nil)
			if err != nil {
				return err
			}
			var byDay struct {
				Data []row `json:"data"`
			}
			if err := json.Unmarshal(days, &byDay); err != nil {
				return fmt.Errorf("unexpected answer: %w", err)
			}
			if asJSON {
				return printJSON(cmd, map[string]any{"project": project, "since": since, "totals": sum.Totals,
					"days": byDay.Data, "top_models": sum.TopModels, "top_clients": sum.TopClients})
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', tabwriter.AlignRight)
			fmt.Fprintf(cmd.OutOrStdout(), "project %s, since %s\n\n", project, since)
			fmt.Fprintln(w, "\tREQUESTS\tERRORS\tTOKENS IN\tTOKENS OUT\tCOST USD\tP50 MS\tP95 MS\t")
			for _, d := range byDay.Data {
				d.print(w, d.Bucket[:min(len(d.Bucket), 10)])
			}
			sum.Totals.print(w, "total")
			fmt.Fprintln(w, "\t\t\t\t\t\t\t\t")
			for _, m := range sum.TopModels {
				m.print(w, "model "+m.Name)
			}
			for _, m := range sum.TopClients {
				m.print(w, "client "+m.Name)
			}
			return w.Flush()
		},
	}
	c.Flags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	c.Flags().StringVar(&since, "since", "7d", "how far back: a duration such as 24h or 7d, or an RFC 3339 time")
	c.Flags().BoolVar(&asJSON, "json", false, `print JSON for scripts: {"project","since","totals","days","top_models","top_clients"}`)
	c.Example = `  memedge stats                       # this checkout's project, last 7 days
  memedge stats --project shop --since 24h
  memedge stats --json | jq .totals.cost`
	return c
}

// row is one line of the usage API's totals, groups or rankings.
type row struct {
	Name             string  `json:"name,omitempty"`
	Bucket           string  `json:"bucket,omitempty"`
	Requests         int64   `json:"requests"`
	Errors           int64   `json:"errors"`
	PromptTokens     int64   `json:"prompt_tokens"`
	CompletionTokens int64   `json:"completion_tokens"`
	Cost             float64 `json:"cost"`
	Unpriced         int64   `json:"unpriced"`
	P50              float64 `json:"latency_p50_ms"`
	P95              float64 `json:"latency_p95_ms"`
}

func (r row) print(w *tabwriter.Writer, label string) {
	cost := fmt.Sprintf("%.4f", r.Cost)
	if r.Unpriced > 0 {
		cost += fmt.Sprintf(" (+%d unpriced)", r.Unpriced)
	}
	fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%d\t%s\t%.0f\t%.0f\t\n", label, r.Requests, r.Errors, r.PromptTokens, r.CompletionTokens, cost, r.P50, r.P95)
}
