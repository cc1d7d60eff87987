package main

import (
	"fmt"
	"io"

	"github.com/spf13/cobra"
)

func envCmd() *cobra.Command {
	var project, shell string
	c := &cobra.Command{
		Use:   "env [--project NAME] [--shell bash|zsh|fish|powershell]",
		Short: "print the environment that points OpenAI and Anthropic clients at a project's port",
		Long: `Print shell commands that point OpenAI- and Anthropic-style clients at the
project's edge port, e.g. eval "$(memedge env)". The keys are placeholders:
the edge sends your gateway key.`,
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
			reg, err := openRegistry(h, nil)
			if err != nil {
				return err
			}
			e, ok, err := reg.Get(project)
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("project %s has no port yet: run 'memedge start --project %s' first", project, project)
			}
			base := fmt.Sprintf("http://127.0.0.1:%d", e.Port)
			return printEnv(cmd.OutOrStdout(), shell, [][2]string{
				{"OPENAI_BASE_URL", base + "/v1"}, {"OPENAI_API_KEY", "memedge"},
				{"ANTHROPIC_BASE_URL", base}, {"ANTHROPIC_API_KEY", "memedge"},
			})
		},
	}
	c.Flags().StringVar(&project, "project", "", "project name (default: the git root's folder name)")
	c.Flags().StringVar(&shell, "shell", "bash", "bash, zsh, fish or powershell")
	return c
}

func printEnv(w io.Writer, shell string, vars [][2]string) error {
	for _, v := range vars {
		switch shell {
		case "bash", "zsh", "sh":
			fmt.Fprintf(w, "export %s=%q\n", v[0], v[1])
		case "fish":
			fmt.Fprintf(w, "set -gx %s %q;\n", v[0], v[1])
		case "powershell", "pwsh":
			fmt.Fprintf(w, "$env:%s = %q\n", v[0], v[1])
		default:
			return fmt.Errorf("--shell must be bash, zsh, fish or powershell, not %q", shell)
		}
	}
	return nil
}
