package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// usageFlags are the usage command's flags.
type usageFlags struct {
	config, dataDir                      string
	by, since, until                     string
	user, project, client, model, status string
	limit                                int
	json                                 bool
}

// usageCmd prints aggregated usage from the database itself, with or
// without a gateway running: the same grouping as GET /v1/usage?group_by.
func usageCmd(stdout io.Writer) *cobra.Command {
	var f usageFlags
	c := &cobra.Command{
		Use:   "usage [--config FILE] [--data-dir DIR] [--by project] [--since 7d]",
		Short: "print usage grouped by project, model, client, user, status, day or hour",
		Long: `Print the usage log aggregated, read from the config's database
(general_settings.database_url; without one, the SQLite file in --data-dir).

--by takes what GET /v1/usage?group_by takes: at most one of hour and day,
and any of user, project, client, model, status ("day,project"). Without a
time bucket the rows come most requests first; with one, oldest first.
--since and --until take RFC 3339, a date, or a duration back from now
(24h, 7d). Buckets are UTC hours and days.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return printUsage(cmd.Context(), f, time.Now(), stdout) },
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "gateway config file (for database_url)")
	fl.StringVar(&f.dataDir, "data-dir", ".memproxy", "directory of the embedded database")
	fl.StringVar(&f.by, "by", "project", "grouping: hour or day, and any of user, project, client, model, status")
	fl.StringVar(&f.since, "since", "", "from, inclusive (RFC 3339, a date, or a duration back from now such as 7d); default: the beginning")
	fl.StringVar(&f.until, "until", "", "up to, exclusive (as --since)")
	fl.StringVar(&f.user, "user", "", "only this user")
	fl.StringVar(&f.project, "project", "", "only this project")
	fl.StringVar(&f.client, "client", "", "only this client")
	fl.StringVar(&f.model, "model", "", "only this model")
	fl.StringVar(&f.status, "status", "", `only this HTTP status, or "error" for every non-2xx`)
	fl.IntVar(&f.limit, "limit", 1000, "at most this many rows")
	fl.BoolVar(&f.json, "json", false, `print JSON for scripts: {"data":[rows as GET /v1/usage?group_by gives them],"total":{…}}`)
	c.Example = `  memgateway usage --by day,model --since 7d
  memgateway usage --by user --status error --json | jq '.data[] | {user, errors}'`
	return c
}

func printUsage(ctx context.Context, f usageFlags, now time.Time, w io.Writer) error {
	by, err := usage.ParseGroupBy(f.by)
	if err != nil {
		return fmt.Errorf("--by: %w", err)
	}
	by.ByRequests, by.Limit = by.Bucket == "", f.limit
	q := usage.Query{Filter: usage.Filter{User: f.user, Project: f.project, Client: f.client, Model: f.model}}
	for _, t := range []struct {
		flag, v string
		dst     *time.Time
	}{{"--since", f.since, &q.Since}, {"--until", f.until, &q.Until}} {
		if t.v == "" {
			continue
		}
		if *t.dst, err = usage.ParseTime(t.v, now); err != nil {
			return fmt.Errorf("%s: %w", t.flag, err)
		}
	}
	switch f.status {
	case "":
	case "error", "errors":
		q.Errors = true
	default:
		if q.Status, err = strconv.Atoi(f.status); err != nil || q.Status < 100 || q.Status > 599 {
			return fmt.Errorf("--status must be an HTTP status or \"error\", not %q", f.status)
		}
	}

	db, err := openUsageStore(ctx, f.config, f.dataDir)
	if err != nil {
		return err
	}
	defer db.Close()
	sm, ok := db.(usage.Summarizer)
	if !ok {
		return fmt.Errorf("%s cannot aggregate usage", db.Describe())
	}
	groups, err := sm.GroupUsage(ctx, q, by)
	if err != nil {
		return err
	}
	total, err := sm.GroupUsage(ctx, q, usage.GroupBy{})
	if err != nil {
		return err
	}

	if f.json {
		return printUsageJSON(w, groups, total, by)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	var head []string
	if by.Bucket != "" {
		head = append(head, strings.ToUpper(string(by.Bucket))+" (UTC)")
	}
	for _, k := range by.Keys {
		head = append(head, strings.ToUpper(string(k)))
	}
	head = append(head, "REQUESTS", "ERRORS", "PROMPT", "COMPLETION", "CACHED", "COST", "UNPRICED", "P50 MS", "P95 MS", "TTFB P50 MS")
	fmt.Fprintln(tw, strings.Join(head, "\t"))
	for _, g := range groups {
		var cells []string
		switch by.Bucket {
		case usage.BucketHour:
			cells = append(cells, g.Bucket.Format("2006-01-02 15:04"))
		case usage.BucketDay:
			cells = append(cells, g.Bucket.Format(time.DateOnly))
		}
		for _, k := range by.Keys {
			cells = append(cells, orNone(g.Value(k)))
		}
		fmt.Fprintln(tw, strings.Join(append(cells, totalsCells(g.Totals)...), "\t"))
	}
	if len(total) == 1 && len(groups) > 1 {
		cells := make([]string, len(head)-10)
		cells[0] = "TOTAL"
		fmt.Fprintln(tw, strings.Join(append(cells, totalsCells(total[0].Totals)...), "\t"))
	}
	if len(groups) == 0 {
		fmt.Fprintln(tw, "no requests match")
	}
	return tw.Flush()
}

// printUsageJSON writes the groups as GET /v1/usage?group_by does: the
// bucket and the keys asked for beside the totals, plus the overall total.
func printUsageJSON(w io.Writer, groups, total []usage.Group, by usage.GroupBy) error {
	rows := make([]map[string]any, len(groups))
	for i, g := range groups {
		b, err := json.Marshal(g.Totals)
		if err != nil {
			return err
		}
		row := map[string]any{}
		if err := json.Unmarshal(b, &row); err != nil {
			return err
		}
		if by.Bucket != "" {
			row["bucket"] = g.Bucket.UTC()
		}
		for _, k := range by.Keys {
			if k == usage.KeyStatus {
				row[string(k)] = g.Status
			} else {
				row[string(k)] = g.Value(k)
			}
		}
		rows[i] = row
	}
	out := struct {
		Data  []map[string]any `json:"data"`
		Total usage.Totals     `json:"total"`
	}{Data: rows}
	if len(total) == 1 {
		out.Total = total[0].Totals
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}

func totalsCells(t usage.Totals) []string {
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	f := func(v float64) string { return strconv.FormatFloat(v, 'f', 1, 64) }
	return []string{n(t.Requests), n(t.Errors), n(t.PromptTokens), n(t.CompletionTokens), n(t.CachedTokens),
		"$" + strconv.FormatFloat(t.Cost, 'f', 4, 64), n(t.Unpriced), f(t.LatencyP50MS), f(t.LatencyP95MS), f(t.TTFBP50MS)}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

// openUsageStore opens the database the config names. An embedded
// database that does not exist yet is an error, not a new empty file.
func openUsageStore(ctx context.Context, configFile, dataDir string) (store.DB, error) {
	return openStore(ctx, configFile, dataDir, false)
}
