package main

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/memproxy/memproxy/config"
	"github.com/memproxy/memproxy/internal/telemetry"
)

func TestSetupTelemetry(t *testing.T) {
	t.Cleanup(func() { _, _ = telemetry.Setup(context.Background(), telemetry.Options{}) })
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	file := config.Telemetry{Enabled: true, Exporter: config.OTelExporterHTTP, Endpoint: "http://127.0.0.1:1/v1/traces",
		Headers: map[string]config.Secret{"api-key": "s3cret-header"}}

	// The environment wins over the file.
	t.Setenv("OTEL_TRACES_EXPORTER", "console")
	tel, err := setupTelemetry(context.Background(), file, log)
	if err != nil {
		t.Fatal(err)
	}
	if !tel.Recording() {
		t.Error("console exporter from the environment: not recording")
	}
	shutdownTelemetry(tel, log)
	out := logs.String()
	if !strings.Contains(out, "tracing on") || !strings.Contains(out, "exporter=console") || !strings.Contains(out, "service=memgateway") {
		t.Errorf("log: %s", out)
	}
	if strings.Contains(out, "s3cret-header") {
		t.Errorf("a header value was logged: %s", out)
	}

	t.Setenv("OTEL_TRACES_EXPORTER", "zipkin")
	if _, err := setupTelemetry(context.Background(), file, log); err == nil {
		t.Error("an unsupported OTEL_TRACES_EXPORTER must stop the start")
	}

	t.Setenv("OTEL_TRACES_EXPORTER", "")
	tel, err = setupTelemetry(context.Background(), config.Telemetry{Exporter: config.OTelExporterNone}, log)
	if err != nil || tel.Recording() {
		t.Errorf("off by default: recording=%v err=%v", tel.Recording(), err)
	}
}
