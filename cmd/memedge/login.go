package main

import (
	"errors"
	"fmt"
	"net"
	"os/user"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/config"
)

func loginCmd() *cobra.Command {
	var gw, key, usr, caFile string
	var insecure bool
	c := &cobra.Command{
		Use:   "login --gateway HOST:PORT --key KEY",
		Short: "store the gateway address and your gateway key (file mode 0600)",
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			if _, _, err := net.SplitHostPort(gw); err != nil {
				return fmt.Errorf("--gateway must be HOST:PORT of the gateway's gRPC listener: %w", err)
			}
			if key == "" {
				return errors.New("--key is required")
			}
			if caFile != "" {
				if caFile, err = filepath.Abs(caFile); err != nil {
					return err
				}
			}
			if usr == "" {
				if u, err := user.Current(); err == nil {
					usr = u.Username
				}
			}
			h, err := home()
			if err != nil {
				return err
			}
			path, err := config.EdgePath()
			if err != nil {
				return err
			}
			e, err := config.LoadEdge(path)
			if errors.Is(err, config.ErrNoLogin) {
				e, err = &config.Edge{}, nil
			}
			if err != nil {
				return err
			}
			e.Gateway, e.Key, e.User, e.CAFile, e.Insecure = gw, config.Secret(key), usr, caFile, insecure
			_, mode, err := transport(e)
			if err != nil {
				return err
			}
			if err := config.SaveEdge(path, e); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s over %s (stored in %s)\n", gw, usr, mode, path)
			if _, err := newClient(h).Status(cmd.Context()); err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "a daemon is running with the old login: 'memedge shutdown' then 'memedge start' to use the new one")
			}
			return nil
		},
	}
	c.Flags().StringVar(&gw, "gateway", "", "gateway gRPC address, HOST:PORT")
	c.Flags().StringVar(&key, "key", "", "your gateway key (the master key until per-user keys exist)")
	c.Flags().StringVar(&usr, "user", "", "your user name (default: the OS user)")
	c.Flags().StringVar(&caFile, "ca-file", "", "PEM CA bundle that signs the gateway's certificate (default: system roots)")
	c.Flags().BoolVar(&insecure, "insecure", false, "plaintext to a non-loopback gateway (development only; memedge doctor warns)")
	return c
}
