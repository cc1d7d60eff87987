package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/user"
	"time"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/edge"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/internal/version"
)

// quietProcs is the GOMAXPROCS the daemon runs with while its load is
// light (edge/procs.go), unless the GOMAXPROCS variable sets it: then the
// runtime's setting is left alone.
func quietProcs() int {
	if os.Getenv("GOMAXPROCS") != "" {
		return 0
	}
	return 1
}

func runCmd() *cobra.Command {
	var projects []string
	var logFormat string
	c := &cobra.Command{
		Use:   "run [--project NAME]...",
		Short: "run the daemon in the foreground (for systemd, launchd, or debugging)",
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := slog.New(slog.NewTextHandler(cmd.ErrOrStderr(), nil))
			if logFormat == "json" {
				log = slog.New(slog.NewJSONHandler(cmd.ErrOrStderr(), nil))
			}
			tel, err := setupTelemetry(cmd.Context(), log)
			if err != nil {
				return err
			}
			defer func() {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				defer cancel()
				if err := tel.Shutdown(ctx); err != nil {
					log.Warn("telemetry: spans not exported at shutdown", "err", err)
				}
			}()
			d, ctlPath, err := newDaemon(log)
			if err != nil {
				return err
			}
			ctl, err := edge.ListenControl(ctlPath)
			if err != nil {
				return err
			}
			for _, p := range projects {
				st, err := d.Start(edge.StartRequest{Project: p})
				if err != nil {
					ctl.Close()
					return fmt.Errorf("project %s: %w", p, err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s → %s\n", st.Project, st.URL)
			}
			log.Info("memedge daemon ready", "control", ctlPath, "pid", os.Getpid())
			return d.Run(cmd.Context(), ctl)
		},
	}
	c.Flags().StringSliceVar(&projects, "project", nil, "project to serve at start (repeatable)")
	c.Flags().StringVar(&logFormat, "log-format", "text", "log format: text or json")
	return c
}

// setupTelemetry installs the tracer provider the OTEL_* environment
// describes (OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_EXPORTER, …; see
// telemetry.Options.WithEnv); without it the daemon traces nothing. The
// edge's spans join the gateway's traces through the tunnel.
func setupTelemetry(ctx context.Context, log *slog.Logger) (*telemetry.Provider, error) {
	opts, err := telemetry.Options{ServiceName: "memedge", ServiceVersion: version.Version, Logger: log}.WithEnv(os.LookupEnv)
	if err != nil {
		return nil, fmt.Errorf("telemetry: %w", err)
	}
	tel, err := telemetry.Setup(ctx, opts)
	if err != nil {
		return nil, err
	}
	if tel.Recording() {
		log.Info("tracing on", "telemetry", opts)
	}
	return tel, nil
}

// newDaemon builds a daemon from the login file and $MEMPROXY_HOME.
func newDaemon(log *slog.Logger) (*edge.Daemon, string, error) {
	h, err := home()
	if err != nil {
		return nil, "", err
	}
	path, err := config.EdgePath()
	if err != nil {
		return nil, "", err
	}
	login, err := config.LoadEdge(path)
	if errors.Is(err, config.ErrNoLogin) {
		return nil, "", errNoLogin
	}
	if err != nil {
		return nil, "", err
	}
	tlsCfg, mode, err := transport(login)
	if err != nil {
		return nil, "", err
	}
	log.Info("gateway transport", "gateway", login.Gateway, "mode", mode)
	reg, err := openRegistry(h, log)
	if err != nil {
		return nil, "", err
	}
	id, err := edgeID(h)
	if err != nil {
		return nil, "", err
	}
	clients, err := config.NewClientTable(login.Clients)
	if err != nil {
		return nil, "", err
	}
	usr := login.User
	if usr == "" {
		if u, err := user.Current(); err == nil {
			usr = u.Username
		}
	}
	hostname, _ := os.Hostname()
	d, err := edge.New(edge.Options{
		Gateway: login.Gateway, Key: login.Key.Reveal(), User: usr, Hostname: hostname, EdgeID: id,
		DetectClient: clients.Detect, Registry: reg, AllowedOrigins: login.AllowedOrigins, Logger: log, TLS: tlsCfg,
		QuietProcs: quietProcs(),
	})
	return d, socketPath(h), err
}
