package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
)

// memoryCmd groups the commands that see and edit the current project's
// memories, through the project's edge port (so the gateway applies the
// same identity and scope as to the project's requests).
func memoryCmd() *cobra.Command {
	var project string
	var asJSON, all bool
	c := &cobra.Command{Use: "memory", Short: "search, add, list, edit and forget the memories of a project"}
	c.PersistentFlags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	call := func(cmd *cobra.Command, method, path string, body any) ([]byte, error) {
		return memoryCall(cmd.Context(), project, method, path, body)
	}
	// show prints an answer holding a list of memories: as the gateway
	// sent it with --json, else as a table.
	show := func(cmd *cobra.Command, b []byte, scored bool) error {
		if asJSON {
			_, err := cmd.OutOrStdout().Write(append(bytes.TrimSpace(b), '\n'))
			return err
		}
		return printMemories(cmd.OutOrStdout(), b, scored)
	}
	search := &cobra.Command{Use: "search QUERY", Short: "search the project's memories", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := call(cmd, http.MethodGet, "/v1/memory/search?q="+url.QueryEscape(args[0]), nil)
			if err != nil {
				return err
			}
			return show(cmd, b, true)
		}}
	list := &cobra.Command{Use: "list", Short: "list the project's memories, newest first",
		RunE: func(cmd *cobra.Command, _ []string) error {
			path := "/v1/memory?limit=100"
			if all {
				path += "&include_superseded=true"
			}
			b, err := call(cmd, http.MethodGet, path, nil)
			if err != nil {
				return err
			}
			return show(cmd, b, false)
		}}
	list.Flags().BoolVar(&all, "all", false, "list superseded memories too")
	history := &cobra.Command{Use: "history ID", Short: "show what a memory replaced and what replaced it, oldest first", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			b, err := call(cmd, http.MethodGet, "/v1/memory/"+url.PathEscape(args[0])+"/history", nil)
			if err != nil {
				return err
			}
			return show(cmd, b, false)
		}}
	for _, sub := range []*cobra.Command{search, list, history} {
		sub.Flags().BoolVar(&asJSON, "json", false, "print the gateway's JSON answer")
	}
	c.AddCommand(search, list, history,
		&cobra.Command{Use: "add TEXT", Short: "remember a fact for the project", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				b, err := call(cmd, http.MethodPost, "/v1/memory", map[string]any{"content": args[0], "metadata": map[string]string{"source": "memedge"}})
				if err != nil {
					return err
				}
				var r struct {
					Memory  struct{ ID string } `json:"memory"`
					Created bool                `json:"created"`
				}
				_ = json.Unmarshal(b, &r)
				if !r.Created {
					fmt.Fprintf(cmd.OutOrStdout(), "already remembered as %s\n", r.Memory.ID)
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "remembered as %s\n", r.Memory.ID)
				return nil
			}},
		&cobra.Command{Use: "edit ID TEXT", Short: "correct a memory: the new text supersedes it (the old one stays in its history)", Args: cobra.ExactArgs(2),
			RunE: func(cmd *cobra.Command, args []string) error {
				b, err := call(cmd, http.MethodPut, "/v1/memory/"+url.PathEscape(args[0]), map[string]any{"content": args[1]})
				if err != nil {
					return err
				}
				var r struct {
					Memory  struct{ ID string } `json:"memory"`
					Changed bool                `json:"changed"`
				}
				_ = json.Unmarshal(b, &r)
				if !r.Changed {
					fmt.Fprintf(cmd.OutOrStdout(), "%s already says that\n", args[0])
					return nil
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s is superseded by %s\n", args[0], r.Memory.ID)
				return nil
			}},
		&cobra.Command{Use: "forget ID", Short: "delete one memory", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				if _, err := call(cmd, http.MethodDelete, "/v1/memory/"+url.PathEscape(args[0]), nil); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "forgot %s\n", args[0])
				return nil
			}},
	)
	return c
}

// memoryCall sends one memory API call through the project's edge port.
func memoryCall(ctx context.Context, project, method, path string, body any) ([]byte, error) {
	if project == "" {
		name, _, err := defaultProject()
		if err != nil {
			return nil, err
		}
		project = name
	}
	h, err := home()
	if err != nil {
		return nil, err
	}
	st, err := newClient(h).Status(ctx)
	if err != nil || !served(st, project) {
		return nil, fmt.Errorf("project %s is not being served: run 'memedge start --project %s' first", project, project)
	}
	var port int
	for _, p := range st.Projects {
		if p.Project == project {
			port = p.Port
		}
	}
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, fmt.Sprintf("http://127.0.0.1:%d%s", port, path), rd)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode >= 300 {
		var e struct {
			Error struct{ Message string } `json:"error"`
		}
		if json.Unmarshal(b, &e) == nil && e.Error.Message != "" {
			return nil, errors.New(e.Error.Message)
		}
		return nil, fmt.Errorf("gateway answered %s", resp.Status)
	}
	return b, nil
}

// printMemories prints an answer's memories as a table: id, score or
// creation time, status (superseded ones name their successor), source,
// and the text on one line.
func printMemories(w io.Writer, b []byte, scored bool) error {
	var r struct {
		Scope string `json:"scope"`
		Data  []struct {
			ID           string    `json:"id"`
			Content      string    `json:"content"`
			CreatedAt    time.Time `json:"created_at"`
			Score        *float64  `json:"score"`
			Status       string    `json:"status"`
			SupersededBy string    `json:"superseded_by"`
			Source       *struct {
				Client    string `json:"client"`
				RequestID string `json:"request_id"`
				Turn      int    `json:"turn"`
			} `json:"source"`
		} `json:"data"`
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return fmt.Errorf("unexpected answer: %w", err)
	}
	if len(r.Data) == 0 {
		fmt.Fprintf(w, "no memories (scope %s)\n", r.Scope)
		return nil
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	if scored {
		fmt.Fprintln(tw, "ID\tSCORE\tSTATUS\tSOURCE\tMEMORY")
	} else {
		fmt.Fprintln(tw, "ID\tCREATED\tSTATUS\tSOURCE\tMEMORY")
	}
	for _, m := range r.Data {
		text := strings.ReplaceAll(m.Content, "\n", " ")
		if r := []rune(text); len(r) > 100 {
			text = string(r[:97]) + "..."
		}
		col := m.CreatedAt.Local().Format("2006-01-02 15:04")
		if scored && m.Score != nil {
			col = fmt.Sprintf("%.2f", *m.Score)
		}
		status := cmp.Or(m.Status, "active")
		if m.SupersededBy != "" {
			status = "superseded by " + m.SupersededBy
		}
		src := "-"
		if s := m.Source; s != nil {
			src = cmp.Or(s.Client, "?")
			if s.RequestID != "" {
				src += " " + s.RequestID
			}
			if s.Turn > 0 {
				src += fmt.Sprintf(" turn %d", s.Turn)
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", m.ID, col, status, src, text)
	}
	return tw.Flush()
}
