package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestTelemetry(t *testing.T) {
	env := fakeEnv(map[string]string{"OTEL_KEY": "k-secret", "OTEL_HDRS": "api-key=k-secret"})
	cases := []struct {
		name, yaml string
		want       Telemetry
		headers    map[string]string
	}{
		{"absent is off", "", Telemetry{Exporter: "none"}, nil},
		{"otel: true defaults to otlp_http", "  otel: true\n", Telemetry{Enabled: true, Exporter: "otlp_http"}, nil},
		{"keys kept but off without otel: true", "  otel_exporter: otlp_grpc\n  otel_endpoint: http://c:4317\n",
			Telemetry{Exporter: "none", Endpoint: "http://c:4317"}, nil},
		{"seed's empty headers", "  otel: true\n  otel_exporter: console\n  otel_headers: \"\"\n  otel_service_name: \" gw \"\n",
			Telemetry{Enabled: true, Exporter: "console", ServiceName: "gw"}, nil},
		{"headers as a string, from the environment", "  otel: true\n  otel_headers: os.environ/OTEL_HDRS\n",
			Telemetry{Enabled: true, Exporter: "otlp_http"}, map[string]string{"api-key": "k-secret"}},
		{"headers string form", "  otel: true\n  otel_headers: \"api-key=a%2Cb, x-team=t\"\n",
			Telemetry{Enabled: true, Exporter: "otlp_http"}, map[string]string{"api-key": "a,b", "x-team": "t"}},
		{"headers as a mapping", "  otel: true\n  otel_headers:\n    api-key: os.environ/OTEL_KEY\n    x-n: 7\n",
			Telemetry{Enabled: true, Exporter: "otlp_http"}, map[string]string{"api-key": "k-secret", "x-n": "7"}},
		{"headers as JSON", "  otel: true\n  otel_headers: '{\"api-key\": \"j\"}'\n",
			Telemetry{Enabled: true, Exporter: "otlp_http"}, map[string]string{"api-key": "j"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := mockModel
			if c.yaml != "" {
				src += "litellm_settings:\n" + c.yaml
			}
			g, err := Parse("gw.yaml", []byte(src), env)
			if err != nil {
				t.Fatal(err)
			}
			tl := g.Telemetry
			if tl.Enabled != c.want.Enabled || tl.Exporter != c.want.Exporter || tl.Endpoint != c.want.Endpoint || tl.ServiceName != c.want.ServiceName {
				t.Errorf("got %+v, want %+v", tl, c.want)
			}
			if got, want := fmt.Sprint(tl.HeaderValues()), fmt.Sprint(c.headers); got != want && (c.headers != nil || tl.Headers != nil) {
				t.Errorf("headers %s, want %s", got, want)
			}
			for _, k := range g.Ignored {
				if strings.Contains(k, "otel") {
					t.Errorf("Ignored lists %s; otel is implemented", k)
				}
			}
		})
	}
}

func TestTelemetryErrors(t *testing.T) {
	cases := []struct{ yaml, want string }{
		{"  otel_exporter: zipkin\n", `gw.yaml:6: litellm_settings.otel_exporter: unsupported exporter "zipkin"`},
		{"  otel_endpoint: collector:4318\n", "gw.yaml:6: litellm_settings.otel_endpoint: must be an http:// or https:// URL"},
		{"  otel_endpoint: ftp://u:hunter2@c\n", "litellm_settings.otel_endpoint: must be"},
		{"  otel_headers: hunter2\n", "gw.yaml:6: litellm_settings.otel_headers: entry 1: expected name=value"},
		{"  otel_headers: '{\"a\": 1, \"b\": \"hunter2\"}'\n", "litellm_settings.otel_headers: not a JSON object of strings"},
		{"  otel_headers:\n    a: [hunter2]\n", "litellm_settings.otel_headers.a: expected a header value"},
		{"  otel_headers: \"bad name=hunter2\"\n", `litellm_settings.otel_headers: invalid header name "bad name"`},
		{"  otel_headers: [hunter2]\n", "litellm_settings.otel_headers: expected a mapping"},
		{"  otel_headers: os.environ/UNSET\n", "environment variable UNSET is not set"},
	}
	for _, c := range cases {
		_, err := Parse("gw.yaml", []byte(mockModel+"litellm_settings:\n"+c.yaml), nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%q: got %v, want %q", c.yaml, err, c.want)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error quotes a secret: %v", c.yaml, err)
		}
	}
}

func TestTelemetryRedacted(t *testing.T) {
	g, err := Parse("gw.yaml", []byte(mockModel+"litellm_settings:\n  otel: true\n  otel_endpoint: https://u:pw-hunter2@c/v1/traces\n"+
		"  otel_headers: {api-key: hunter2}\n"), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := g.Redacted()
	dump := sprintAll(r) + r.Telemetry.Headers["api-key"].Reveal() + r.Telemetry.Endpoint
	if strings.Contains(dump, "hunter2") {
		t.Errorf("Redacted leaks: %s", dump)
	}
	if g.Telemetry.HeaderValues()["api-key"] != "hunter2" || !strings.Contains(g.Telemetry.Endpoint, "hunter2") {
		t.Error("Redacted changed the original")
	}
	if s := fmt.Sprintf("%v %+v %#v", g.Telemetry.Headers, g.Telemetry.Headers, g.Telemetry.Headers); strings.Contains(s, "hunter2") {
		t.Errorf("header value printed: %s", s)
	}
}
