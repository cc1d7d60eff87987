package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// setupTarget is what a client is pointed at: a project's edge port.
type setupTarget struct {
	Project string
	Base    string // http://127.0.0.1:PORT, no trailing slash
	Model   string // "" when the client keeps its own default
	Models  []string
}

// setupClient knows one client's own configuration file.
type setupClient struct {
	name string
	// path is the file setup edits.
	path func() (string, error)
	// apply returns the file's new contents pointing the client at t; it
	// is idempotent: apply(apply(x)) == apply(x).
	apply func(old []byte, t setupTarget) ([]byte, error)
	// read returns the base URL and model the file points the client at
	// ("" when it does not), for doctor.
	read func(data []byte) (base, model string, err error)
	// next is printed after a successful setup.
	next string
}

// setupClients are the clients setup writes configuration for, by name.
var setupClients = map[string]setupClient{
	"claude-code": claudeCode,
	"codex":       codexCLI,
	"continue":    continueDev,
}

// jetbrainsSteps is printed for JetBrains AI Assistant, whose settings live
// in the IDE's own store, not a file setup should edit.
const jetbrainsSteps = `JetBrains AI Assistant keeps its settings inside the IDE; set it up by hand:
  Settings → Tools → AI Assistant → Models → Third-party AI providers →
  OpenAI API (or "OpenAI-compatible"):
    URL      %s/v1
    API key  any value (the edge holds your gateway key)
  The gateway's models then appear in the model list. Check with:
  memedge doctor jetbrains
`

func setupCmd() *cobra.Command {
	var project, model string
	var undo bool
	c := &cobra.Command{
		Use:   "setup CLIENT [--project NAME] [--model NAME] [--undo]",
		Short: "point a client at this project's port: claude-code, codex, continue (jetbrains: printed steps)",
		Long: `Write a client's own configuration so that it talks to the project's edge
port, keeping a backup of the file the first time (FILE.memedge-backup).
Running it again changes nothing; --undo puts the file back as it was
before the first setup (edits made since are lost) and removes the backup.

  claude-code  ~/.claude/settings.json ($CLAUDE_CONFIG_DIR): env ANTHROPIC_BASE_URL,
               ANTHROPIC_AUTH_TOKEN (and ANTHROPIC_MODEL with --model)
  codex        $CODEX_HOME/config.toml (~/.codex): model_provider "memedge" with
               wire_api "responses", and model
  continue     ~/.continue/config.yaml: one models entry per gateway model
  jetbrains    prints the steps (the IDE keeps these settings itself)

Claude Code and Codex read one file for every project: run setup again in
another project to move them there.`,
		Example: `  cd ~/src/shop && memedge start && memedge setup claude-code
  memedge setup codex --model gpt-4o
  memedge setup continue --undo`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"claude-code", "codex", "continue", "jetbrains"},
		RunE: func(cmd *cobra.Command, args []string) error {
			t, err := resolveTarget(cmd.Context(), project, model)
			if err != nil && !undo {
				return err
			}
			out := cmd.OutOrStdout()
			if args[0] == "jetbrains" {
				fmt.Fprintf(out, jetbrainsSteps, t.Base)
				return nil
			}
			cl, ok := setupClients[args[0]]
			if !ok {
				return fmt.Errorf("unknown client %q: use claude-code, codex, continue or jetbrains", args[0])
			}
			path, err := cl.path()
			if err != nil {
				return err
			}
			if undo {
				msg, err := undoSetup(path)
				if err == nil {
					fmt.Fprintln(out, msg)
				}
				return err
			}
			changed, err := applySetup(path, func(old []byte) ([]byte, error) { return cl.apply(old, t) })
			if err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if !changed {
				fmt.Fprintf(out, "%s already points %s at %s (project %s): nothing to change\n", path, cl.name, t.Base, t.Project)
				return nil
			}
			fmt.Fprintf(out, "%s now points %s at %s (project %s); backup in %s\n%s\n", path, cl.name, t.Base, t.Project, path+backupExt, cl.next)
			return nil
		},
	}
	c.Flags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	c.Flags().StringVar(&model, "model", "", "model the client should use (default: the client's own, or the gateway's first for codex)")
	c.Flags().BoolVar(&undo, "undo", false, "restore the file as it was before the first setup")
	return c
}

// resolveTarget finds the project's port (it must have one: memedge start)
// and asks the edge for the gateway's models.
func resolveTarget(ctx context.Context, project, model string) (setupTarget, error) {
	if project == "" {
		name, _, err := defaultProject()
		if err != nil {
			return setupTarget{}, err
		}
		project = name
	}
	reg, err := regFromHome()
	if err != nil {
		return setupTarget{}, err
	}
	e, ok, err := reg.Get(project)
	if err != nil {
		return setupTarget{}, err
	}
	if !ok {
		return setupTarget{}, fmt.Errorf("project %s has no port yet: run 'memedge start --project %s' first", project, project)
	}
	t := setupTarget{Project: project, Base: fmt.Sprintf("http://127.0.0.1:%d", e.Port), Model: model}
	t.Models, err = edgeModels(ctx, t.Base)
	if err != nil {
		return t, fmt.Errorf("asking %s for the gateway's models: %w (is the project served? memedge start --project %s)", t.Base, err, project)
	}
	if model != "" && !slices.Contains(t.Models, model) {
		return t, fmt.Errorf("the gateway has no model %q (it has: %s)", model, strings.Join(t.Models, ", "))
	}
	return t, nil
}

// edgeModels lists the model ids GET /v1/models answers through the edge.
func edgeModels(ctx context.Context, base string) ([]string, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/models", nil)
	req.Header.Set("User-Agent", "memedge-setup")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %d", resp.StatusCode)
	}
	var list struct {
		Data []struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&list); err != nil {
		return nil, err
	}
	var ids []string
	for _, m := range list.Data {
		ids = append(ids, m.ID)
	}
	if len(ids) == 0 {
		return nil, errors.New("the gateway lists no models")
	}
	return ids, nil
}

// homeFile returns $env or ~/def, joined with name.
func homeFile(env, def, name string) (string, error) {
	dir := os.Getenv(env)
	if dir == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = h + string(os.PathSeparator) + def
	}
	return dir + string(os.PathSeparator) + name, nil
}
