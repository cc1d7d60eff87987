package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/memproxy/memproxy/gateway/store"
	"github.com/memproxy/memproxy/gateway/usage"
)

// writeUsageRows fills the database dbURL names (in dataDir) with rows for
// two projects, one of them a day old.
func writeUsageRows(t *testing.T, dbURL, dataDir string, now time.Time) {
	t.Helper()
	db, err := store.Open(t.Context(), dbURL, dataDir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cost := 0.125
	recs := []usage.Record{
		{RequestID: "a", Time: now.Add(-time.Minute), Project: "shop", Model: "gpt", Status: 200, PromptTokens: 10, LatencyMS: 100, Cost: &cost},
		{RequestID: "b", Time: now.Add(-2 * time.Minute), Project: "shop", Model: "gpt", Status: 500, PromptTokens: 5, LatencyMS: 300},
		{RequestID: "c", Time: now.Add(-30 * time.Hour), Project: "shop", Model: "claude", Status: 200, LatencyMS: 50, Unpriced: true},
		{RequestID: "d", Time: now.Add(-3 * time.Minute), Project: "blog", Model: "claude", Status: 200, PromptTokens: 1, LatencyMS: 10},
		{RequestID: "e", Time: now.Add(-4 * time.Minute), Model: "claude", Status: 200},
	}
	if err := db.WriteUsage(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
}

func usageRun(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(t.Context(), append([]string{"usage"}, args...), &out, &errb)
	return out.String(), err
}

// fields splits the table's lines into columns.
func fields(out string) [][]string {
	var rows [][]string
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		rows = append(rows, strings.Fields(l))
	}
	return rows
}

func TestUsageCommand(t *testing.T) {
	dir := t.TempDir()
	writeUsageRows(t, "", dir, time.Now())

	out, err := usageRun(t, "--data-dir", dir, "--by", "project")
	if err != nil {
		t.Fatal(err)
	}
	rows := fields(out)
	want := [][]string{ // project, requests, errors, prompt tokens, …, cost
		{"PROJECT", "REQUESTS", "ERRORS", "PROMPT"},
		{"shop", "3", "1", "15"},
		{"(none)", "1", "0", "0"},
		{"blog", "1", "0", "1"},
		{"TOTAL", "5", "1", "16"},
	}
	if len(rows) != len(want) {
		t.Fatalf("usage --by project:\n%s", out)
	}
	for i, w := range want {
		if len(rows[i]) < 4 || strings.Join(rows[i][:4], " ") != strings.Join(w, " ") {
			t.Errorf("row %d = %q; want it to start %q\n%s", i, rows[i], w, out)
		}
	}
	if !strings.Contains(rows[1][6], "$0.1250") || rows[1][8] != "100.0" {
		t.Errorf("shop's cost and p50: %q", rows[1])
	}

	out, err = usageRun(t, "--data-dir", dir, "--by", "day,model", "--since", "1d", "--status", "error")
	if err != nil {
		t.Fatal(err)
	}
	today := time.Now().UTC().Format(time.DateOnly)
	if rows := fields(out); len(rows) != 2 || rows[0][0] != "DAY" || rows[1][0] != today || rows[1][1] != "gpt" || rows[1][2] != "1" {
		t.Errorf("usage --by day,model --since 1d --status error:\n%s", out)
	}

	out, err = usageRun(t, "--data-dir", dir, "--by", "day,project", "--json")
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Data []struct {
			Bucket   time.Time `json:"bucket"`
			Project  *string   `json:"project"`
			Model    *string   `json:"model"`
			Requests int64     `json:"requests"`
			Errors   int64     `json:"errors"`
		} `json:"data"`
		Total usage.Totals `json:"total"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("usage --json: %v\n%s", err, out)
	}
	var shopToday int64
	for _, d := range doc.Data {
		if d.Project == nil || d.Model != nil || d.Bucket.IsZero() {
			t.Errorf("row has keys it was not grouped by or lacks its own: %+v", d)
		} else if *d.Project == "shop" && d.Bucket.Format(time.DateOnly) == time.Now().UTC().Format(time.DateOnly) {
			shopToday = d.Requests
		}
	}
	if doc.Total.Requests != 5 || doc.Total.Errors != 1 || shopToday != 2 {
		t.Errorf("usage --json: total %+v, shop today %d:\n%s", doc.Total, shopToday, out)
	}

	// The config's database_url is where the rows are read.
	writeUsageRows(t, "sqlite:other.db", dir, time.Now())
	cfg := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(`general_settings:
  database_url: sqlite:other.db
model_list:
  - model_name: mock
    litellm_params:
      model: mock/echo
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if out, err := usageRun(t, "--config", cfg, "--data-dir", dir, "--by", "model", "--project", "blog"); err != nil ||
		len(fields(out)) != 2 || fields(out)[1][0] != "claude" {
		t.Errorf("usage --config: %v\n%s", err, out)
	}

	for _, bad := range [][]string{{"--by", "week"}, {"--by", "project,project"}, {"--since", "yesterday"}, {"--status", "bad"}} {
		if _, err := usageRun(t, append([]string{"--data-dir", dir}, bad...)...); err == nil {
			t.Errorf("usage %q succeeded", bad)
		}
	}
}

func TestUsageCommandNoDatabase(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := usageRun(t, "--data-dir", dir)
	if err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("usage on a missing data dir: %v", err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("usage created %s", dir)
	}
}
