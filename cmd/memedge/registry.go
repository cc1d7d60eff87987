package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/edge"
	"github.com/memproxy/memproxy/registry"
)

// registryCmd holds the seed's port-registry commands: list, show,
// allocate and remove.
func registryCmd() *cobra.Command {
	c := &cobra.Command{Use: "registry", Short: "inspect and edit the project → port registry"}
	c.AddCommand(
		&cobra.Command{
			Use: "list", Short: "print every registry entry as JSON",
			RunE: func(cmd *cobra.Command, _ []string) error {
				reg, err := regFromHome()
				if err != nil {
					return err
				}
				entries, err := reg.List()
				if err != nil {
					return err
				}
				return printJSON(cmd, entries)
			},
		},
		&cobra.Command{
			Use: "show PROJECT", Short: "print one project's entry", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				reg, err := regFromHome()
				if err != nil {
					return err
				}
				e, ok, err := reg.Get(args[0])
				if err != nil {
					return err
				}
				if !ok {
					return fmt.Errorf("project %s is not in the registry", args[0])
				}
				return printJSON(cmd, e)
			},
		},
		allocateCmd(),
		&cobra.Command{
			Use: "remove PROJECT", Short: "forget a project's port (refused while it is served)", Args: cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				h, err := home()
				if err != nil {
					return err
				}
				if st, err := newClient(h).Status(cmd.Context()); err == nil && served(st, args[0]) {
					return fmt.Errorf("project %s is being served; 'memedge stop --project %s' first", args[0], args[0])
				}
				reg, err := openRegistry(h, nil)
				if err != nil {
					return err
				}
				if err := reg.Remove(args[0]); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "removed %s\n", args[0])
				return nil
			},
		},
	)
	return c
}

func allocateCmd() *cobra.Command {
	var port int
	c := &cobra.Command{
		Use: "allocate PROJECT [--port N]", Short: "reserve a port for a project without serving it", Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			reg, err := regFromHome()
			if err != nil {
				return err
			}
			a, err := reg.Allocate(args[0], registry.AllocateRequest{Port: port})
			if err != nil {
				return err
			}
			if a.Previous != 0 {
				fmt.Fprintf(cmd.ErrOrStderr(), "note: moved from port %d: %s\n", a.Previous, a.Reason)
			}
			return printJSON(cmd, a.Entry)
		},
	}
	c.Flags().IntVar(&port, "port", 0, "pin this port")
	return c
}

func served(st edge.DaemonStatus, project string) bool {
	for _, p := range st.Projects {
		if p.Project == project {
			return true
		}
	}
	return false
}

func regFromHome() (*registry.Registry, error) {
	h, err := home()
	if err != nil {
		return nil, err
	}
	return openRegistry(h, nil)
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
