package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/edge"
)

func loginCmd() *cobra.Command {
	var gw, key, usr, caFile string
	var insecure bool
	c := &cobra.Command{
		Use:   "login --gateway HOST:PORT[,HOST:PORT...] --key KEY",
		Short: "check your gateway key with the gateway and store it with the address (file mode 0600)",
		RunE: func(cmd *cobra.Command, _ []string) (err error) {
			addrs := config.SplitGateways(gw)
			if len(addrs) == 0 {
				return errors.New("--gateway is required: HOST:PORT of the gateway's gRPC listener (several replicas joined by commas)")
			}
			for _, a := range addrs {
				if _, _, err := net.SplitHostPort(a); err != nil {
					return fmt.Errorf("--gateway must be HOST:PORT of the gateway's gRPC listener (several joined by commas): %w", err)
				}
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
			e.Gateway, e.Key, e.User, e.CAFile, e.Insecure = strings.Join(addrs, ","), config.Secret(key), usr, caFile, insecure
			tlsCfg, mode, err := transport(e)
			if err != nil {
				return err
			}
			who, err := resolvedUser(cmd.Context(), h, e, tlsCfg)
			if err != nil {
				return err
			}
			if err := config.SaveEdge(path, e); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "logged in to %s as %s over %s (stored in %s)\n", e.Gateway, who, mode, path)
			if _, err := newClient(h).Status(cmd.Context()); err == nil {
				fmt.Fprintln(cmd.OutOrStdout(), "a daemon is running with the old login: 'memedge shutdown' then 'memedge start' to use the new one")
			}
			return nil
		},
	}
	c.Flags().StringVar(&gw, "gateway", "", "gateway gRPC address, HOST:PORT; replicas joined by commas (a:8765,b:8765), or one DNS name with several addresses")
	c.Flags().StringVar(&key, "key", "", "your gateway key (the master key until per-user keys exist)")
	c.Flags().StringVar(&usr, "user", "", "your user name, used with the master key only (a user key names its user; default: the OS user)")
	c.Flags().StringVar(&caFile, "ca-file", "", "PEM CA bundle that signs the gateway's certificate (default: system roots)")
	c.Flags().BoolVar(&insecure, "insecure", false, "plaintext to a non-loopback gateway (development only; memedge doctor warns)")
	return c
}

// resolvedUser asks the gateway whom the key belongs to, and records it in
// e.User: with a user key the gateway takes the user from the key, so that
// is the user to show, not the OS user. With the master key the gateway
// takes the user the edge names (e.User). A key the gateway refuses is an
// error and nothing is saved; a gateway that does not answer is a warning
// (the login is saved, and 'memedge doctor' checks it later).
func resolvedUser(ctx context.Context, h string, e *config.Edge, tlsCfg *tls.Config) (string, error) {
	id, _ := edgeID(h)
	hostname, _ := os.Hostname()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	res, err := edge.Probe(pctx, e.Gateway, e.Key.Reveal(), tlsCfg, id, hostname)
	switch status.Code(err) {
	case codes.OK:
		if res.Admin {
			return e.User + " (master key: the user is the one this edge names)", nil
		}
		e.User = res.User
		return e.User + " (the key's user, as the gateway resolved it)", nil
	case codes.Unauthenticated:
		return "", fmt.Errorf("the gateway at %s refused this key (%s): nothing was saved", e.Gateway, status.Convert(err).Message())
	default:
		return fmt.Sprintf("%s (not checked: the gateway did not answer: %s; run 'memedge doctor' once it is up)",
			e.User, status.Convert(err).Message()), nil
	}
}
