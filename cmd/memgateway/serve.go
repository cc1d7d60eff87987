package main

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/gateway"
	"github.com/memproxy/memproxy/gateway/auth"
	"github.com/memproxy/memproxy/internal/telemetry"
	"github.com/memproxy/memproxy/internal/version"
)

type serveFlags struct {
	config, dataDir, httpAddr, grpcAddr, logFormat, logLevel string
	tlsCert, tlsKey, metricsAddr, addrFile                   string
	drainTimeout                                             time.Duration
}

func serveCmd(stdout, stderr io.Writer) *cobra.Command {
	var f serveFlags
	c := &cobra.Command{
		Use:   "serve",
		Short: "run the gateway (HTTP API and the gRPC tunnel for edges)",
		Long: `Run the gateway. Without --config it runs on embedded defaults: the
built-in mock model, and a SQLite usage log in the data directory.
Without a master_key in the config, a key is generated once and kept in
DATA_DIR/master.key (mode 0600).`,
		RunE: func(cmd *cobra.Command, _ []string) error { return serve(cmd.Context(), f, stdout, stderr) },
	}
	fl := c.Flags()
	fl.StringVar(&f.config, "config", "", "gateway config file (YAML, LiteLLM keys)")
	fl.StringVar(&f.dataDir, "data-dir", ".memproxy", "directory for the embedded database and the generated master key")
	fl.StringVar(&f.httpAddr, "http", "127.0.0.1:8764", "HTTP listen address")
	fl.StringVar(&f.grpcAddr, "grpc", "127.0.0.1:8765", "gRPC listen address (edges)")
	fl.StringVar(&f.logFormat, "log-format", "text", "log format: text or json")
	fl.StringVar(&f.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fl.StringVar(&f.tlsCert, "tls-cert", "", "PEM certificate: serve HTTP and gRPC over TLS (with --tls-key)")
	fl.StringVar(&f.tlsKey, "tls-key", "", "PEM private key of --tls-cert")
	fl.DurationVar(&f.drainTimeout, "drain-timeout", 0, "how long running requests may finish after SIGTERM before they are cut (default: general_settings.drain_timeout, 10m)")
	fl.StringVar(&f.metricsAddr, "metrics", "", "also serve GET /metrics without authentication on this address, for Prometheus (bind it to a private interface); the HTTP port serves it to the master key only")
	fl.StringVar(&f.addrFile, "addr-file", "", "once listening, write the bound addresses to this file as JSON {\"http\",\"grpc\",\"metrics\"} (for --http 127.0.0.1:0 and scripts)")
	return c
}

func serve(ctx context.Context, f serveFlags, stdout, stderr io.Writer) error {
	log, err := newLogger(stderr, f.logFormat, f.logLevel)
	if err != nil {
		return err
	}
	cfg, err := loadConfig(f.config)
	if err != nil {
		return err
	}
	if len(cfg.Ignored) > 0 {
		log.Info("config keys accepted but not implemented yet (ignored)", "keys", strings.Join(cfg.Ignored, ", "))
	}
	if err := os.MkdirAll(f.dataDir, 0o700); err != nil {
		return fmt.Errorf("creating data directory: %w", err)
	}
	if err := privateDataDir(f.dataDir, cfg.General.DatabaseURL, log); err != nil {
		return err
	}
	master := cfg.General.MasterKey.Reveal()
	if master == "" {
		if master, err = generatedMasterKey(f.dataDir, log); err != nil {
			return err
		}
	}
	tlsCfg, err := loadTLS(f.tlsCert, f.tlsKey)
	if err != nil {
		return err
	}
	tel, err := setupTelemetry(ctx, cfg.Telemetry, log)
	if err != nil {
		return err
	}
	defer shutdownTelemetry(tel, log)
	srv, err := gateway.New(ctx, gateway.Options{Config: cfg, DataDir: f.dataDir, MasterKey: master, Logger: log, TLS: tlsCfg,
		ShutdownGrace: f.drainTimeout})
	if err != nil {
		return err
	}
	defer srv.Close()
	httpLn, err := net.Listen("tcp", f.httpAddr)
	if err != nil {
		return fmt.Errorf("HTTP listener: %w", err)
	}
	grpcLn, err := net.Listen("tcp", f.grpcAddr)
	if err != nil {
		httpLn.Close()
		return fmt.Errorf("gRPC listener: %w", err)
	}
	var metricsLn net.Listener
	if f.metricsAddr != "" {
		if metricsLn, err = net.Listen("tcp", f.metricsAddr); err != nil {
			httpLn.Close()
			grpcLn.Close()
			return fmt.Errorf("metrics listener: %w", err)
		}
	}
	log.Info("memgateway ready", "version", version.Version, "http", httpLn.Addr().String(), "grpc", grpcLn.Addr().String(),
		"tls", tlsCfg != nil, "models", len(srv.Models()))
	fmt.Fprintf(stdout, "memgateway %s: HTTP on %s, gRPC on %s\n", version.Version, httpLn.Addr(), grpcLn.Addr())
	if f.addrFile != "" {
		if err := writeAddrFile(f.addrFile, httpLn, grpcLn, metricsLn); err != nil {
			httpLn.Close()
			grpcLn.Close()
			if metricsLn != nil {
				metricsLn.Close()
			}
			return err
		}
	}
	if metricsLn == nil {
		return srv.Run(ctx, httpLn, grpcLn)
	}
	log.Info("metrics served without authentication", "addr", metricsLn.Addr().String())
	mctx, stopMetrics := context.WithCancel(ctx)
	merr := make(chan error, 1)
	go func() { merr <- srv.ServeMetrics(mctx, metricsLn) }()
	runErr := srv.Run(ctx, httpLn, grpcLn)
	stopMetrics()
	if err := <-merr; err != nil && runErr == nil {
		runErr = fmt.Errorf("metrics: %w", err)
	}
	return runErr
}

// boundAddrs is the --addr-file document.
type boundAddrs struct {
	HTTP    string `json:"http"`
	GRPC    string `json:"grpc"`
	Metrics string `json:"metrics,omitempty"`
}

// writeAddrFile writes the listeners' addresses to path atomically (a
// temporary file renamed over it), so a reader that sees the file sees
// all of it, and only once every listener is bound.
func writeAddrFile(path string, httpLn, grpcLn, metricsLn net.Listener) error {
	a := boundAddrs{HTTP: httpLn.Addr().String(), GRPC: grpcLn.Addr().String()}
	if metricsLn != nil {
		a.Metrics = metricsLn.Addr().String()
	}
	b, _ := json.Marshal(a)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("--addr-file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("--addr-file: %w", err)
	}
	return nil
}

// setupTelemetry installs the tracer provider that litellm_settings.otel
// and the OTEL_* environment (which wins) describe; none by default.
func setupTelemetry(ctx context.Context, c config.Telemetry, log *slog.Logger) (*telemetry.Provider, error) {
	opts := telemetry.Options{Exporter: c.Exporter, Endpoint: c.Endpoint, Headers: c.HeaderValues(),
		ServiceName: c.ServiceName, ServiceVersion: version.Version, Logger: log}
	if opts.ServiceName == "" {
		opts.ServiceName = "memgateway"
	}
	opts, err := opts.WithEnv(os.LookupEnv)
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

// shutdownTelemetry exports the spans still buffered, waiting a few
// seconds at most for a collector that is slow or gone.
func shutdownTelemetry(tel *telemetry.Provider, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tel.Shutdown(ctx); err != nil {
		log.Warn("telemetry: spans not exported at shutdown", "err", err)
	}
}

// generatedMasterKey returns the master key kept in the data directory,
// creating it on first use. The file is the only place the key is written.
func generatedMasterKey(dir string, log *slog.Logger) (string, error) {
	path := filepath.Join(dir, "master.key")
	b, err := os.ReadFile(path)
	if err == nil {
		if k := strings.TrimSpace(string(b)); k != "" {
			return k, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading %s: %w", path, err)
	}
	key := auth.NewKey("sk-mpadmin-") // not the user keys' sk-mp- prefix: one secret per purpose
	if err := os.WriteFile(path, []byte(key+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing %s: %w", path, err)
	}
	log.Info("no master_key configured: generated one", "file", path)
	return key, nil
}

func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	default:
		return nil, fmt.Errorf("--log-format must be text or json, not %q", format)
	}
}

// loadTLS returns the server TLS config for --tls-cert/--tls-key, or nil
// when neither is given.
func loadTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" && keyFile == "" {
		return nil, nil
	}
	if certFile == "" || keyFile == "" {
		return nil, errors.New("--tls-cert and --tls-key go together")
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil
}
