package telemetry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
)

// setup runs Setup and undoes it when the test ends.
func setup(t *testing.T, opts Options) *Provider {
	t.Helper()
	p, err := Setup(context.Background(), opts)
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	t.Cleanup(func() {
		_ = p.Shutdown(context.Background())
		if _, err := Setup(context.Background(), Options{}); err != nil {
			t.Error(err)
		}
	})
	return p
}

func TestSetupRecordsSpans(t *testing.T) {
	mem := tracetest.NewInMemoryExporter()
	p := setup(t, Options{ServiceName: "memtest", ServiceVersion: "1.2.3", SpanProcessor: sdktrace.NewSimpleSpanProcessor(mem)})
	if !p.Recording() || !Recording() {
		t.Fatal("a SpanProcessor must install a recording provider")
	}
	ctx, endParent := Span(context.Background(), "parent", attribute.String("memproxy.project", "shop"))
	_, endChild := Span(ctx, "child")
	endChild(fmt.Errorf("searching: %w", context.DeadlineExceeded))
	endParent(nil)

	spans := mem.GetSpans()
	if len(spans) != 2 {
		t.Fatalf("recorded %d spans, want 2", len(spans))
	}
	child, parent := spans[0], spans[1]
	if child.Name != "child" || parent.Name != "parent" {
		t.Fatalf("names %q, %q", child.Name, parent.Name)
	}
	if child.Parent.SpanID() != parent.SpanContext.SpanID() || child.SpanContext.TraceID() != parent.SpanContext.TraceID() {
		t.Error("child is not parented by the span in its context")
	}
	if child.Status.Code != codes.Error || child.Status.Description != "deadline_exceeded" {
		t.Errorf("child status %+v", child.Status)
	}
	if !hasAttr(child.Attributes, "error.type", "context.deadlineExceededError") {
		t.Errorf("child attributes %v", child.Attributes)
	}
	if parent.Status.Code != codes.Unset || !hasAttr(parent.Attributes, "memproxy.project", "shop") {
		t.Errorf("parent %+v %v", parent.Status, parent.Attributes)
	}
	if !hasAttr(parent.Resource.Attributes(), "service.name", "memtest") || !hasAttr(parent.Resource.Attributes(), "service.version", "1.2.3") {
		t.Errorf("resource %v", parent.Resource.Attributes())
	}

	// The propagator is W3C trace context (and baggage).
	carrier := propagation.MapCarrier{}
	otel.GetTextMapPropagator().Inject(ctx, carrier)
	if tp := carrier.Get("traceparent"); !strings.Contains(tp, parent.SpanContext.TraceID().String()) {
		t.Errorf("traceparent %q", tp)
	}
}

func hasAttr(kvs []attribute.KeyValue, key, val string) bool {
	for _, kv := range kvs {
		if string(kv.Key) == key && kv.Value.Emit() == val {
			return true
		}
	}
	return false
}

func TestNoneIsNoop(t *testing.T) {
	for _, exp := range []string{"", ExporterNone} {
		p := setup(t, Options{Exporter: exp})
		if p.Recording() {
			t.Errorf("%q: provider records", exp)
		}
		_, span := otel.Tracer("x").Start(context.Background(), "s")
		if span.IsRecording() || span.SpanContext().IsValid() {
			t.Errorf("%q: span recording=%v valid=%v, want a no-op span", exp, span.IsRecording(), span.SpanContext().IsValid())
		}
		span.End()
		ctx := context.Background()
		if got, end := Span(ctx, "off"); got != ctx || Recording() {
			t.Errorf("%q: Span changed the context, or Recording() is true", exp)
		} else {
			end(errors.New("ignored"))
		}
		if err := p.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
	}
}

func TestSetupRefusesBadOptions(t *testing.T) {
	for _, o := range []Options{
		{Exporter: "zipkin"},
		{Exporter: ExporterOTLPHTTP, Endpoint: "collector:4318"},
		{Exporter: ExporterOTLPGRPC, Endpoint: "ftp://u:hunter2@collector"},
	} {
		_, err := Setup(context.Background(), o)
		if err == nil {
			t.Errorf("%v: no error", o)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error echoes the endpoint: %v", err)
		}
	}
}

const secret = "s3cret-collector-token"

func TestHeadersNeverPrinted(t *testing.T) {
	o := Options{Exporter: ExporterOTLPHTTP, Endpoint: "https://user:pw-" + secret + "@collector:4318",
		ServiceName: "memgateway", Headers: Headers{"api-key": secret, "x-other": secret}}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out = append(out, fmt.Sprintf(f, o), fmt.Sprintf(f, o.Headers), fmt.Sprintf(f, &o))
	}
	out = append(out, o.String(), o.Headers.String(), o.Headers.GoString())
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("telemetry", "opts", o, "headers", o.Headers)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("telemetry", "opts", o, "headers", o.Headers)
	out = append(out, logs.String())
	j, err := json.Marshal(o.Headers)
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	for _, s := range out {
		if strings.Contains(s, secret) {
			t.Errorf("secret leaked: %s", s)
		}
	}
	if !strings.Contains(o.String(), "api-key:[redacted]") || !strings.Contains(logs.String(), "x-other") {
		t.Errorf("header names should show: %s / %s", o, logs.String())
	}
}

func TestParseHeaders(t *testing.T) {
	h, err := ParseHeaders(" api-key = a%20b , x-team=t=1,")
	if err != nil || len(h) != 2 || h["api-key"] != "a b" || h["x-team"] != "t=1" {
		t.Errorf("got %v (%d), %v", h, len(h), err)
	}
	if h, err := ParseHeaders(`{"api-key": "k"}`); err != nil || h["api-key"] != "k" {
		t.Errorf("JSON form: %v %v", h, err)
	}
	for _, bad := range []string{"novalue", "=v", "k=%zz" + secret, `{"k": 1, "s": "` + secret + `"}`} {
		if _, err := ParseHeaders(bad); err == nil || strings.Contains(err.Error(), secret) {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// TestOTLPHTTPExport sends a span to a fake collector: the request reaches
// the traces path with the configured headers.
func TestOTLPHTTPExport(t *testing.T) {
	var mu sync.Mutex
	var got []*http.Request
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r)
		mu.Unlock()
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	}))
	defer srv.Close()
	p := setup(t, Options{Exporter: ExporterOTLPHTTP, Endpoint: srv.URL, Headers: Headers{"api-key": secret}})
	_, end := Span(context.Background(), "exported")
	end(nil)
	if err := p.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(got) != 1 {
		t.Fatalf("collector got %d requests", len(got))
	}
	if r := got[0]; r.Method != http.MethodPost || r.URL.Path != "/v1/traces" || r.Header.Get("Api-Key") != secret {
		t.Errorf("request %s %s headers %v", r.Method, r.URL.Path, r.Header)
	}
}

func TestConsoleExporterLogs(t *testing.T) {
	var buf syncBuffer
	p := setup(t, Options{Exporter: ExporterConsole, Logger: slog.New(slog.NewJSONHandler(&buf, nil))})
	_, end := Span(context.Background(), "console.span", attribute.Int("n", 3))
	end(errors.New("boom " + secret))
	if err := p.ForceFlush(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := buf.String()
	if !strings.Contains(s, `"name":"console.span"`) || !strings.Contains(s, `"n":3`) || !strings.Contains(s, `"status":"Error"`) {
		t.Errorf("console output: %s", s)
	}
	if strings.Contains(s, secret) {
		t.Errorf("an error message reached the span: %s", s)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestWithEnv(t *testing.T) {
	file := Options{Exporter: ExporterOTLPHTTP, Endpoint: "http://file:4318/v1/traces", ServiceName: "from-file", Headers: Headers{"a": "1"}}
	cases := []struct {
		name string
		base Options
		env  map[string]string
		want Options
		err  bool
	}{
		{"no env keeps the file", file, nil, file, false},
		{"nothing is none", Options{}, nil, Options{}, false},
		{"standard endpoint turns OTLP on, base URL gets the path", Options{},
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318/"},
			Options{Exporter: ExporterOTLPHTTP, Endpoint: "http://c:4318/v1/traces"}, false},
		{"grpc protocol", Options{},
			map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4317", "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			Options{Exporter: ExporterOTLPGRPC, Endpoint: "http://c:4317"}, false},
		{"traces endpoint as is; env wins over the file", file,
			map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://t/x", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://ignored",
				"OTEL_SERVICE_NAME": "svc", "OTEL_EXPORTER_OTLP_HEADERS": "k=v"},
			Options{Exporter: ExporterOTLPHTTP, Endpoint: "https://t/x", ServiceName: "svc", Headers: Headers{"k": "v"}}, false},
		{"explicit none beats an endpoint", file,
			map[string]string{"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"},
			Options{Exporter: ExporterNone, Endpoint: "http://c", ServiceName: "from-file", Headers: Headers{"a": "1"}}, false},
		{"sdk disabled", file, map[string]string{"OTEL_SDK_DISABLED": "true"},
			Options{Exporter: ExporterNone, Endpoint: file.Endpoint, ServiceName: "from-file", Headers: file.Headers}, false},
		{"LiteLLM's names", Options{},
			map[string]string{"OTEL_EXPORTER": "otlp_grpc", "OTEL_ENDPOINT": "http://l:4317", "OTEL_HEADERS": `{"api-key":"x"}`},
			Options{Exporter: ExporterOTLPGRPC, Endpoint: "http://l:4317", Headers: Headers{"api-key": "x"}}, false},
		{"protocol switches the file's OTLP", file, map[string]string{"OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"},
			Options{Exporter: ExporterOTLPGRPC, Endpoint: file.Endpoint, ServiceName: "from-file", Headers: file.Headers}, false},
		{"console", Options{}, map[string]string{"OTEL_TRACES_EXPORTER": "console"}, Options{Exporter: ExporterConsole}, false},
		{"unknown exporter", Options{}, map[string]string{"OTEL_TRACES_EXPORTER": "zipkin"}, Options{}, true},
		{"two exporters", Options{}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp,console"}, Options{}, true},
		{"http/json", Options{}, map[string]string{"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}, Options{}, true},
		{"bad headers", Options{}, map[string]string{"OTEL_EXPORTER_OTLP_HEADERS": "nope"}, Options{}, true},
		{"bad bool", Options{}, map[string]string{"OTEL_SDK_DISABLED": "maybe"}, Options{}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.base.WithEnv(func(k string) (string, bool) { v, ok := c.env[k]; return v, ok })
			if c.err {
				if err == nil {
					t.Errorf("no error; got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Exporter != c.want.Exporter || got.Endpoint != c.want.Endpoint || got.ServiceName != c.want.ServiceName ||
				fmt.Sprint(map[string]string(got.Headers)) != fmt.Sprint(map[string]string(c.want.Headers)) {
				t.Errorf("got  %s %v\nwant %s %v", got, map[string]string(got.Headers), c.want, map[string]string(c.want.Headers))
			}
		})
	}
}
